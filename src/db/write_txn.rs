//! Write transactions that take SQLite's write lock when they begin (`BEGIN IMMEDIATE`). A plain
//! (deferred) transaction that reads before it writes must upgrade its lock later, and SQLite
//! answers a writer racing it with `database is locked` at once, without waiting: with several
//! processes (nodes) on one SQLite file, batches would fail. Taking the lock up front makes them
//! wait their turn (`busy_timeout`) instead. PostgreSQL transactions are unchanged.

use super::DbConnection;
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};

pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            match <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn) {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _already_failed =
                        <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(
                            conn,
                        );
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)?;
            Err(e)
        }
    }
}
