import Database from 'better-sqlite3'
const db = new Database(':memory:')
db.exec("create table t(c)")
db.prepare('insert into t values (?)').run(-0)
console.log(db.prepare("select cast(c as text), quote(c), printf('%e', c), printf('%g',c), c||'', json_quote(c), printf('%!.17g', c), atan2(c, -1), sign(c) from t").raw().get())
