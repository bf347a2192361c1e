//! `veza`: the command line. Parses arguments, loads the configuration, and hands over to the
//! library; the only place that uses `anyhow`.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use veza::auth::{AuthService, JwtKeys, Role};
use veza::config::{keys::help_text, Config};
use veza_actors::IdGenerator;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod page_aligned;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: page_aligned::PageAlignedBlocks = page_aligned::PageAlignedBlocks;

#[derive(Parser)]
#[command(
    name = "veza",
    version,
    about = "Veza: realtime chat rooms and live audio in one server",
    long_about = "Veza: realtime chat rooms and live audio in one server.\n\n\
        With no command it serves. It starts on an embedded SQLite store in ./data with no other \
        service; set VEZA_DATABASE_URL=postgres://... for PostgreSQL.",
    after_long_help = help_text()
)]
struct Cli {
    /// TOML configuration file (also VEZA_CONFIG). Environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP, WebSocket and streams (the default). Runs migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Operator tasks on accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI 3.1 document of the REST API (what `GET /api/v2/openapi.json` serves),
    /// for client generators; needs no database.
    Openapi,
    /// Write a consistent copy of the configured database to a file. Safe while servers run.
    #[command(
        long_about = "Write a consistent copy of the configured database to a file, \
        safe while servers run.\n\n\
        SQLite: SQLite's online backup API takes a snapshot of one moment while the server keeps \
        writing; the file is a standalone SQLite database (no -wal beside it), integrity-checked. \
        PostgreSQL: `pg_dump --format=custom` of the configured database (the tool from the \
        `postgresql-client` package must be on PATH, at least the server's major version; the \
        password goes to it in PGPASSWORD, never on its command line).\n\n\
        The file is written beside FILE under a temporary name and renamed at the end: a failed \
        backup never leaves a truncated FILE. Uploads, recordings and clips live in the data \
        directory, not the database: back them up too (docs/operations.md)."
    )]
    Backup {
        /// Where to write the backup (replaced if it exists).
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
    },
    /// Replace the configured database's content with a backup, then migrate it. Stop servers first.
    #[command(
        long_about = "Replace the configured database's content with a backup made by \
        `veza backup`, then run the migrations (a backup from an older version comes up to date).\n\n\
        Stop every server using the database first. SQLite: refused while another process has \
        the database open; the backup is integrity-checked, then copied in with SQLite's backup \
        API. PostgreSQL: `pg_restore --clean --if-exists --no-owner --single-transaction` (all or \
        nothing); refused while other sessions are connected (even with --force: servers still \
        running would keep acking into the old state; --ignore-sessions overrides it for sessions \
        known not to be Veza servers, such as monitoring), and over tables the backup lacks (a newer schema: restore into an empty database instead).\n\n\
        A file of the other backend's kind (a PostgreSQL dump for a SQLite database or the \
        reverse) or of no known kind is refused. A database that already holds users is only \
        replaced with --force."
    )]
    Restore {
        /// The backup file: a SQLite database or a pg_dump custom-format file.
        #[arg(long, short, value_name = "FILE")]
        input: PathBuf,
        /// Replace a database that holds users.
        #[arg(long)]
        force: bool,
        /// PostgreSQL: restore although other sessions are connected (only when none of them is
        /// a Veza server). SQLite's in-use refusal cannot be overridden.
        #[arg(long)]
        ignore_sessions: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user with a global role, or reset the role and password of an existing one. The
    /// password comes from VEZA_ADMIN_PASSWORD or the first line of standard input, never from argv.
    CreateUser {
        /// The username (3-32 characters of letters, digits, '_', '.', '-').
        #[arg(long)]
        username: String,
        /// admin, moderator, broadcaster, user or bot.
        #[arg(long, default_value = "user")]
        role: Role,
    },
    /// Re-encrypt every stored TOTP secret under the current key (`totp_key`, or the one derived
    /// from `jwt_secret`), after changing it. The old key comes from the environment, never argv:
    /// VEZA_OLD_TOTP_KEY (64 hex characters) or, if TOTP secrets were under a key derived from
    /// the JWT secret, VEZA_OLD_JWT_SECRET. Safe to run again; stop the servers first or run it
    /// right after they restart with the new key.
    RotateTotpKey,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it (secrets redacted); exits non-zero naming the bad key.
    Check,
}

fn main() -> Result<()> {
    return_large_allocations_to_the_os();
    let cli = Cli::parse();
    // The document needs no configuration, so a bad or absent one does not stop it.
    if let Some(Command::Openapi) = cli.command {
        return print_openapi();
    }
    let config = Config::from_env(cli.config.as_deref()).context("invalid configuration")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => print_openapi(),
        Command::Serve => serve(config),
        Command::Migrate => migrate(config),
        Command::Admin(AdminCommand::CreateUser { username, role }) => {
            create_user(config, &username, role)
        }
        Command::Admin(AdminCommand::RotateTotpKey) => rotate_totp_key(config),
        Command::Backup { output } => backup(config, &output),
        Command::Restore {
            input,
            force,
            ignore_sessions,
        } => restore(config, &input, force, ignore_sessions),
        Command::Config(ConfigCommand::Check) => {
            println!("{}", serde_json::to_string_pretty(&config.redacted())?);
            eprintln!("configuration OK");
            Ok(())
        }
    }
}

fn print_openapi() -> Result<()> {
    println!("{}", veza::http::openapi::json());
    Ok(())
}

fn serve(config: Config) -> Result<()> {
    let (log, _guard) = veza::logging::init(&config);
    // Outside the async runtime: its exporter's client blocks, and dropping it flushes.
    let _telemetry = veza::telemetry::init(&config)?;
    actix_web::rt::System::new()
        .block_on(veza::server::serve(config, log.clone()))
        .inspect_err(|e| slog::crit!(log, "server failed"; "error" => e.to_string()))
        .context("server failed")
}

fn migrate(config: Config) -> Result<()> {
    let (log, _guard) = veza::logging::init(&config);
    veza::server::open_store(&config, &log).context("migration failed")?;
    Ok(())
}

fn backup(config: Config, output: &std::path::Path) -> Result<()> {
    let written = veza::backup::backup(&config, output)
        .with_context(|| format!("backup to {} failed", output.display()))?;
    println!(
        "wrote {} bytes ({} backup) to {}",
        written.bytes,
        written.backend.as_str(),
        written.path.display()
    );
    Ok(())
}

fn restore(
    config: Config,
    input: &std::path::Path,
    force: bool,
    ignore_sessions: bool,
) -> Result<()> {
    let (log, _guard) = veza::logging::init(&config);
    let restored = veza::backup::restore(&config, input, force, ignore_sessions, &log)
        .with_context(|| format!("restore from {} refused or failed", input.display()))?;
    println!(
        "restored {} ({}): {} users, {} rooms, {} messages; {} migrations applied",
        input.display(),
        restored.backend.as_str(),
        restored.users,
        restored.rooms,
        restored.messages,
        restored.migrations_applied
    );
    Ok(())
}

fn create_user(config: Config, username: &str, role: Role) -> Result<()> {
    let password = match std::env::var("VEZA_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            if std::io::stdin().is_terminal() {
                eprintln!("password (then Enter; it will be echoed, or pipe it in):");
            }
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.is_empty() {
        bail!("no password: set VEZA_ADMIN_PASSWORD or pipe it on standard input");
    }
    let (log, _guard) = veza::logging::init(&config);
    let pool = veza::server::open_store(&config, &log).context("cannot open the store")?;
    // The secret is not needed to create a user; the service is built with a throwaway key.
    let auth = AuthService::new(
        pool,
        JwtKeys::new(b"unused-for-user-creation"),
        std::sync::Arc::new(IdGenerator::new(config.node_id)),
        config.access_token_ttl_s,
        config.refresh_token_ttl_s,
        // Creating a user never touches TOTP secrets.
        veza::auth::totp::SecretBox::derive(b"unused-for-user-creation"),
    );
    let (user, created) = auth
        .upsert_user(username, &password, role)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{} user {} (id {}) with role {}",
        if created { "created" } else { "updated" },
        user.username,
        user.id,
        user.role
    );
    Ok(())
}

fn rotate_totp_key(config: Config) -> Result<()> {
    let old_key = std::env::var("VEZA_OLD_TOTP_KEY").ok();
    let old_jwt = std::env::var("VEZA_OLD_JWT_SECRET").ok();
    let old = match (old_key.as_deref(), old_jwt.as_deref()) {
        (Some(hex), _) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            veza::server::secret_box(Some(hex), "")
        }
        (Some(_), _) => bail!("VEZA_OLD_TOTP_KEY must be 64 hex characters"),
        (None, Some(secret)) if !secret.is_empty() => veza::server::secret_box(None, secret),
        _ => bail!(
            "set VEZA_OLD_TOTP_KEY (the previous totp_key) or VEZA_OLD_JWT_SECRET (the previous \
             jwt_secret, when no totp_key was set)"
        ),
    };
    let (log, _guard) = veza::logging::init(&config);
    let pool = veza::server::open_store(&config, &log).context("cannot open the store")?;
    let secret = veza::server::jwt_secret(&config, &log).context("cannot read the JWT secret")?;
    let current = veza::server::totp_secrets(&config, &secret);
    let hooks = veza::webhooks::rekey::reseal_secrets(&pool, &current, &old)
        .context("cannot re-seal the outgoing webhooks' secrets")?;
    let auth = AuthService::new(
        pool,
        JwtKeys::new(secret.as_bytes()),
        std::sync::Arc::new(IdGenerator::new(config.node_id)),
        config.access_token_ttl_s,
        config.refresh_token_ttl_s,
        veza::server::totp_secrets(&config, &secret),
    );
    let report = auth
        .rekey_totp_secrets(&old)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "re-encrypted {} TOTP secrets; {} were already under the current key; {} open with neither key",
        report.rekeyed, report.current, report.unreadable
    );
    println!(
        "re-sealed {} outgoing webhook secrets; {} were already under the current key; {} open with neither key",
        hooks.resealed, hooks.current, hooks.unreadable
    );
    if report.unreadable > 0 || hooks.unreadable > 0 {
        bail!(
            "{} TOTP and {} webhook secrets open with neither key: check VEZA_OLD_TOTP_KEY / VEZA_OLD_JWT_SECRET",
            report.unreadable,
            hooks.unreadable
        );
    }
    Ok(())
}

/// glibc raises its mmap threshold after large frees, so the 19 MiB argon2 buffers of each
/// blocking thread end up kept in malloc arenas (tens of MiB of RSS after a few logins). A fixed
/// threshold keeps big buffers on mmap: freed at once, returned to the OS.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
