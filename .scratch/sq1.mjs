import Database from 'better-sqlite3'
const db = new Database(':memory:')
db.defaultSafeIntegers(true)
console.log(db.prepare('select sqlite_version()').pluck().get())
const vals=[5e-324,1.7976931348623157e308,-1.7976931348623157e308,0.30000000000000004,2.2250738585072014e-308,-0,0.1,1,1e21,123456789012345680000,Infinity,-Infinity, 4.35, 9007199254740993.0, 1/3]
let bad=0
for (let i=0;i<200000;i++){ const b=Buffer.alloc(8); for(let j=0;j<8;j++) b[j]=Math.random()*256|0; const v=b.readDoubleLE(0); if(Number.isFinite(v)) vals.push(v)}
const st=db.prepare("select printf('%!.17g', ?)").pluck()
for (const v of vals){ const s=st.get(v); const back = s==='Inf'?Infinity:s==='-Inf'?-Infinity:Number(s); if(!Object.is(back,v)){ bad++; if(bad<10) console.log('bad',v,s)} }
console.log('bad',bad, st.get(Infinity), st.get(-Infinity), st.get(-0), st.get(1))
let args=[]; for(let i=0;i<400;i++) args.push(String(i));
try{ db.prepare(`select json_array(${args.join(',')})`).get(); console.log('400 args ok')}catch(e){console.log(e.message)}
console.log(db.prepare("select json_array('a'||x'00'||'b', 'x')").pluck().get())
