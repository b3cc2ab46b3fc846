/** The dashboard's style sheet (served as /dashboard/style.css; the CSP allows no inline style). */
export const DASHBOARD_STYLE = `
:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 0 1.5rem 2rem; }
header { display: flex; align-items: baseline; gap: 1rem; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 1.5rem; }
h3 { font-size: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #8884; vertical-align: top; }
th { font-weight: 600; }
tbody tr.sync { cursor: pointer; }
tbody tr.selected { background: #8882; }
.muted { color: #888; }
.status { font-weight: 600; }
.status-succeeded, .status-streaming, .status-idle { color: #1a7f37; }
.status-running, .status-retrying { color: #9a6700; }
.status-failed, .status-failing, .status-partial, .status-cancelled { color: #cf222e; }
.error { white-space: pre-wrap; max-width: 40rem; overflow-wrap: anywhere; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 24rem; }
#banner { background: #cf222e22; border: 1px solid #cf222e; padding: 0.5rem; margin: 0.5rem 0; }
button { margin-right: 0.3rem; }
`
