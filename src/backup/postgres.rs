//! PostgreSQL: `pg_dump --format=custom` and `pg_restore`, the client tools found on PATH.
//!
//! The password never appears in a child's argv (where `ps` shows it to every local user): the
//! URL is passed without it, and the password goes in the child's `PGPASSWORD`.

use super::BackupError;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

/// The configured URL split into what may be shown (argv) and the password (environment only).
struct Target {
    url: String,
    password: Option<String>,
}

impl Target {
    fn parse(url: &str) -> Result<Self, BackupError> {
        let mut parsed = url::Url::parse(url)
            .map_err(|e| BackupError::PgUrl(format!("{e} (in {})", redact(url))))?;
        let password = match parsed.password() {
            Some(p) => Some(
                percent_decode(p)
                    .ok_or_else(|| BackupError::PgUrl("the password is not valid UTF-8".into()))?,
            ),
            None => None,
        };
        parsed.set_password(None).map_err(|()| {
            BackupError::PgUrl(format!("cannot take the password out of {}", redact(url)))
        })?;
        // libpq also takes `?password=`: it moves to the environment too (the userinfo one wins).
        let (secret, kept): (Vec<_>, Vec<_>) = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .partition(|(k, _)| k == "password" || k == "sslpassword");
        if secret.iter().any(|(k, _)| k == "sslpassword") {
            return Err(BackupError::PgUrl(
                "sslpassword in the URL would reach pg_dump's command line: use an unencrypted \
                 client key or a ~/.postgresql setup instead"
                    .into(),
            ));
        }
        let password = password.or_else(|| secret.into_iter().next().map(|(_, v)| v));
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        Ok(Target {
            url: parsed.to_string(),
            password,
        })
    }

    /// `tool` with the connection in its environment and argv free of secrets.
    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tool);
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        // Never wait on a password prompt no one will answer.
        cmd.arg("--no-password");
        cmd.stdin(Stdio::null());
        cmd
    }
}

/// Dumps the database to `dest` in pg_dump's custom format (compressed, restorable selectively).
pub(super) fn backup(url: &str, dest: &Path) -> Result<(), BackupError> {
    let target = Target::parse(url)?;
    let mut cmd = target.command("pg_dump");
    cmd.arg("--format=custom")
        .arg(file_arg(dest))
        .arg(format!("--dbname={}", target.url));
    run(cmd, "pg_dump")
}

/// Restores the dump `input` over the configured database in one transaction: it either
/// completes or leaves the database as it was.
pub(super) fn restore(
    url: &str,
    input: &Path,
    force: bool,
    ignore_sessions: bool,
) -> Result<(), BackupError> {
    let target = Target::parse(url)?;
    // Read the dump's table of contents first: a damaged file fails here, before any check
    // touches the database.
    let in_dump = dump_tables(&target, input)?;
    if !in_dump.contains("__diesel_schema_migrations") {
        return Err(BackupError::NotVeza(input.to_owned()));
    }
    crate::db::openssl_exit::skip_openssl_exit_cleanup();
    let mut conn = diesel::PgConnection::establish(url).map_err(crate::db::DbError::from)?;
    // `--clean` drops only what the dump holds: tables of a newer schema would stay, marked as
    // migrated by nothing, and the migrations would then fail on them.
    let newer: Vec<String> = diesel::sql_query(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() \
         ORDER BY tablename",
    )
    .load::<Name>(&mut conn)
    .map_err(|e| BackupError::Db(e.into()))?
    .into_iter()
    .map(|t| t.name)
    .filter(|t| !in_dump.contains(t))
    .collect();
    if !newer.is_empty() {
        return Err(BackupError::TablesNotInBackup {
            tables: newer.join(", "),
        });
    }
    if !ignore_sessions {
        let sessions = count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )?;
        if sessions > 0 {
            return Err(BackupError::PgInUse { sessions });
        }
    }
    if !force {
        let has_users = count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_class WHERE oid = to_regclass('users')",
        )?;
        let users = match has_users {
            0 => 0,
            _ => count(&mut conn, "SELECT count(*) AS n FROM users")?,
        };
        if users > 0 {
            return Err(BackupError::NotEmpty { users });
        }
    }
    drop(conn);
    let mut cmd = target.command("pg_restore");
    cmd.args([
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
    ])
    .arg(format!("--dbname={}", target.url))
    .arg(input);
    run(cmd, "pg_restore")
}

/// The tables a custom-format dump creates, from `pg_restore --list` (no database needed).
/// A line of the list: `215; 1259 16390 TABLE public users owner`.
fn dump_tables(target: &Target, input: &Path) -> Result<BTreeSet<String>, BackupError> {
    let mut cmd = target.command("pg_restore");
    cmd.arg("--list").arg(input);
    let listing = output(cmd, "pg_restore")?;
    Ok(listing
        .lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            match words.get(3..6) {
                // `TABLE DATA public users owner` is the table's rows, not a table.
                Some(["TABLE", schema, name]) if *schema != "DATA" => Some((*name).to_owned()),
                _ => None,
            }
        })
        .collect())
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut diesel::PgConnection, sql: &str) -> Result<i64, BackupError> {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .map(|c| c.n)
        .map_err(|e| BackupError::Db(e.into()))
}

fn file_arg(path: &Path) -> OsString {
    let mut arg = OsString::from("--file=");
    arg.push(path);
    arg
}

/// Runs a client tool to completion; its standard error becomes the error's text.
fn run(mut cmd: Command, tool: &'static str) -> Result<(), BackupError> {
    cmd.stdout(Stdio::null());
    output(cmd, tool).map(drop)
}

/// Runs a client tool to completion and returns what it printed.
fn output(mut cmd: Command, tool: &'static str) -> Result<String, BackupError> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BackupError::ToolMissing { tool },
            _ => BackupError::ToolFailed {
                tool,
                status: "could not start".into(),
                stderr: e.to_string(),
            },
        })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(BackupError::ToolFailed {
        tool,
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    // The query may carry `password=` too: it is not shown at all.
    let url = match url.split_once('?') {
        Some((base, _)) => return format!("{}?***", redact(base)),
        None => url,
    };
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        let t = Target::parse("postgres://veza:s%40cr%3At@db.example:5433/veza?sslmode=require")
            .unwrap();
        assert_eq!(t.password.as_deref(), Some("s@cr:t"));
        assert_eq!(
            t.url,
            "postgres://veza@db.example:5433/veza?sslmode=require"
        );
        let t = Target::parse("postgresql://veza@127.0.0.1/veza").unwrap();
        assert_eq!(t.password, None);
        assert_eq!(t.url, "postgresql://veza@127.0.0.1/veza");
        // libpq's query form of the password moves too; the other parameters stay.
        let t = Target::parse("postgres://veza@h/veza?sslmode=require&password=q%26r").unwrap();
        assert_eq!(t.password.as_deref(), Some("q&r"));
        assert_eq!(t.url, "postgres://veza@h/veza?sslmode=require");
        let t = Target::parse("postgres://veza@h/veza?password=x").unwrap();
        assert_eq!(
            (t.password.as_deref(), t.url.as_str()),
            (Some("x"), "postgres://veza@h/veza")
        );
        assert!(Target::parse("postgres://veza@h/veza?sslpassword=x").is_err());
    }

    #[test]
    fn messages_never_show_the_password() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("postgres://u:pw@h/db?password=x"),
            "postgres://u:***@h/db?***"
        );
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("a%20b%25").as_deref(), Some("a b%"));
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("end%4"), Some("end%4".into()));
    }
}
