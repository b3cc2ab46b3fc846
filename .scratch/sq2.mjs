import Database from 'better-sqlite3'
const db = new Database(':memory:')
db.defaultSafeIntegers(true)
db.exec("create table t(a REAL, b TEXT, c)")
db.prepare('insert into t values (?,?,?)').run(-0, -0, -0)
console.log(db.prepare("select a,b,c, typeof(a), typeof(c), printf('%!.17g', a), printf('%!.17g', c) from t").raw().get())
console.log(db.prepare("select strftime('%Y-%m-%dT%H:%M:%f','now'), max(1) from (select 1) ").raw().get())
