/** The dashboard's HTML shell; src/server/dashboard/script.ts fills it from the API. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="syncline-auth" content="{{AUTH}}">
<title>syncline</title>
<link rel="stylesheet" href="/dashboard/style.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<header>
  <h1>syncline</h1>
  <span id="updated" class="muted"></span>
  <button id="forget-token" type="button" hidden>Forget token</button>
</header>
<div id="banner" role="alert" hidden></div>
<form id="token-form" hidden>
  <label for="token">API token (SYNCLINE_TOKEN)</label>
  <input id="token" type="password" autocomplete="off" required>
  <button type="submit">Connect</button>
  <p class="muted">Kept in this tab only (sessionStorage) and sent as the bearer header to this daemon.</p>
</form>
<main id="main" hidden>
  <section>
    <h2>Syncs</h2>
    <table id="syncs">
      <thead><tr><th>sync</th><th>mode</th><th>status</th><th>last run</th><th>read / created / updated / deleted / failed / conflicts</th><th>next run</th><th>lag</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-syncs" class="muted" hidden>The plan has no syncs.</p>
  </section>
  <section id="detail" hidden>
    <h2>Sync <span id="detail-id"></span></h2>
    <h3>Runs</h3>
    <table id="runs">
      <thead><tr><th>run</th><th>attempt</th><th>status</th><th>started</th><th>duration</th><th>read / created / updated / deleted / failed / conflicts</th><th>error</th></tr></thead>
      <tbody></tbody>
    </table>
    <h3>Rejected records</h3>
    <table id="errors">
      <thead><tr><th>run</th><th>record</th><th>operation</th><th>reason</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-errors" class="muted" hidden>No rejected records.</p>
  </section>
  <section>
    <h2>Conflicts waiting for a decision</h2>
    <table id="conflicts">
      <thead><tr><th>sync</th><th>record</th><th>kind</th><th>source</th><th>destination</th><th>detected</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-conflicts" class="muted" hidden>None.</p>
  </section>
</main>
</body>
</html>
`
