//! Every configuration key: its name, default and meaning. One table drives the environment variable
//! names, `--help` and docs/configuration.md, so they cannot drift apart.

/// One configuration option.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    /// The key in the TOML file; the environment variable is `VEZA_` + this, upper-cased.
    pub name: &'static str,
    /// `None`: unset by default.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

impl ConfigKey {
    pub fn env_var(&self) -> String {
        format!("VEZA_{}", self.name.to_uppercase())
    }
}

pub const KEYS: &[ConfigKey] = &[
    ConfigKey { name: "bind", default: Some("127.0.0.1:8080"), doc: "Address for HTTP, the REST API and WebSocket." },
    ConfigKey { name: "ingest_bind", default: Some("127.0.0.1:8000"), doc: "Address of the Icecast-protocol port: sources (PUT/SOURCE), listeners and /admin/metadata." },
    ConfigKey { name: "database_url", default: Some("sqlite://./data/veza.db"), doc: "Store: sqlite://PATH (embedded) or postgres://USER@HOST:PORT/DB." },
    ConfigKey { name: "db_pool_size", default: Some("16"), doc: "Database connections in the pool (1-1024)." },
    ConfigKey { name: "redis_url", default: None, doc: "redis://HOST:PORT for cross-node fan-out and shared limits; unset: single node." },
    ConfigKey { name: "jwt_secret", default: None, doc: "HMAC key for access tokens (production: >= 32 bytes, >= 7 distinct characters, no repeats or patterns; `openssl rand -hex 32`). Unset in development: generated and kept in DATA_DIR/jwt_secret." },
    ConfigKey { name: "env", default: Some("development"), doc: "development | production (production refuses weak secrets)." },
    ConfigKey { name: "data_dir", default: Some("./data"), doc: "Directory for the generated secret, SQLite file, recordings and HLS segments." },
    ConfigKey { name: "log_format", default: Some("auto"), doc: "json | pretty | auto (pretty on a terminal, JSON otherwise)." },
    ConfigKey { name: "otlp_endpoint", default: None, doc: "OpenTelemetry traces: base URL of an OTLP/HTTP collector (http://HOST:4318); spans go to its /v1/traces. Unset: no traces." },
    ConfigKey { name: "otlp_protocol", default: Some("protobuf"), doc: "protobuf | json: the OTLP/HTTP encoding of exported spans." },
    ConfigKey { name: "log_level", default: Some("info"), doc: "trace | debug | info | warning | error." },
    ConfigKey { name: "access_token_ttl_s", default: Some("900"), doc: "Access token lifetime in seconds (30-86400)." },
    ConfigKey { name: "refresh_token_ttl_s", default: Some("2592000"), doc: "Refresh token lifetime in seconds (default 30 days)." },
    ConfigKey { name: "max_body_bytes", default: Some("65536"), doc: "Largest accepted JSON request body, in bytes." },
    ConfigKey { name: "workers", default: Some("0"), doc: "HTTP worker threads; 0 = one per CPU core." },
    ConfigKey { name: "shutdown_timeout_s", default: Some("10"), doc: "Seconds to let requests finish after SIGTERM/SIGINT." },
    ConfigKey { name: "node_id", default: Some("0"), doc: "This node's number (0-1023) in a cluster; makes ids unique across nodes." },
    ConfigKey { name: "auth_rate_per_minute", default: Some("20"), doc: "Register and login requests per minute per IP (a burst of this many, then evenly spaced); 0 = no limit." },
    ConfigKey { name: "ip_rate_per_minute", default: Some("1200"), doc: "Requests per minute per client IP on the whole API (not /live or /hls media); 0 = no limit." },
    ConfigKey { name: "media_rate_per_minute", default: Some("600"), doc: "Requests per minute per client IP to /live and /hls (an HLS player makes about 60; several listeners may share an address); 0 = no limit." },
    ConfigKey { name: "refresh_grace_ms", default: Some("10000"), doc: "A refresh token just rotated may be presented once more within this time (two tabs refreshing at once) without counting as token reuse; 0 = never." },
    ConfigKey { name: "max_websockets_per_user", default: Some("20"), doc: "WebSockets one user may hold open on one node (more: 429 too_many_connections)." },
    ConfigKey { name: "max_group_members", default: Some("10"), doc: "Most people in a group conversation, its creator included (2-100)." },
    ConfigKey { name: "max_rooms_per_user", default: Some("100"), doc: "Rooms one user may own (creating more: 409 quota_exceeded); 0 = no limit." },
    ConfigKey { name: "max_streams_per_user", default: Some("10"), doc: "Streams one user may own (creating more: 409 quota_exceeded); 0 = no limit." },
    ConfigKey { name: "user_rate_per_minute", default: Some("600"), doc: "Authenticated requests per minute per user; 0 = no limit." },
    ConfigKey { name: "write_rate_per_minute", default: Some("120"), doc: "Requests that change something (POST, PUT, PATCH, DELETE) per minute per user; 0 = no limit." },
    ConfigKey { name: "hash_concurrency", default: Some("0"), doc: "Password hashes (argon2id, 19 MiB each) computed at once; 0 = one per CPU core." },
    ConfigKey { name: "hash_queue", default: Some("32"), doc: "Requests that may wait for a password hash slot; beyond that they get 503 with Retry-After." },
    ConfigKey { name: "reauth_window_s", default: Some("300"), doc: "Seconds after a login during which account changes (2FA on, OAuth link/unlink, a provider account's first password) need no current_password." },
    ConfigKey { name: "redis_prefix", default: Some("veza"), doc: "Prefix of Veza's keys in Redis (rate limits); nodes of one cluster share it." },
    ConfigKey { name: "ws_send_rate", default: Some("20"), doc: "WebSocket send/edit/delete/react frames per second per connection." },
    ConfigKey { name: "ws_send_burst", default: Some("40"), doc: "Burst allowed above ws_send_rate." },
    ConfigKey { name: "ws_bot_send_rate", default: Some("50"), doc: "The same for bots' WebSockets (a bot answers for a whole room)." },
    ConfigKey { name: "ws_bot_send_burst", default: Some("100"), doc: "Burst allowed above ws_bot_send_rate." },
    ConfigKey { name: "ws_outbound_queue", default: Some("1024"), doc: "Frames queued for a slow client before it is cut off (close 1013)." },
    ConfigKey { name: "ws_heartbeat_ms", default: Some("15000"), doc: "How often the server pings each WebSocket." },
    ConfigKey { name: "ws_timeout_ms", default: Some("45000"), doc: "A WebSocket silent this long is dropped and removed from its rooms." },
    ConfigKey { name: "persist_shards", default: Some("0"), doc: "Persistence writer threads (rooms are spread over them); 0 = 1 on SQLite, 2 on PostgreSQL." },
    ConfigKey { name: "persist_max_batch", default: Some("1000"), doc: "Most write requests committed in one transaction." },
    ConfigKey { name: "room_ring_size", default: Some("256"), doc: "Recent messages each active room keeps in memory." },
    ConfigKey { name: "presence_list_max", default: Some("500"), doc: "A room with more users online than this is large: `joined` lists only this many and `presence` frames carry the `online` count alone, every 2 s (10-100000)." },
    ConfigKey { name: "room_idle_s", default: Some("300"), doc: "A room with nobody online on this node this long stops (its memory is freed; the next join reloads it)." },
    ConfigKey { name: "ingest_advertise", default: None, doc: "HOST:PORT put in ingest_url for broadcasters; unset: ingest_bind." },
    ConfigKey { name: "ingest_max_connections", default: Some("1000"), doc: "Connections the ingest port holds at once (sources and listeners); more are answered 503 and closed, so they cannot take the main port's file descriptors." },
    ConfigKey { name: "ingest_max_per_ip", default: Some("16"), doc: "Connections one client address (an IPv6 /64) may hold on the ingest port." },
    ConfigKey { name: "ingest_head_timeout_ms", default: Some("10000"), doc: "Deadline for a whole request head on the ingest port, however slowly it arrives (slowloris)." },
    ConfigKey { name: "ingest_recheck_ms", default: Some("5000"), doc: "How often a live source's stream key and owner are checked again: a rotated key or a disabled owner ends the broadcast within this time." },
    ConfigKey { name: "http_max_connections", default: Some("100000"), doc: "Connections the main port holds at once over all workers (WebSockets included); beyond that it stops accepting until some close." },
    ConfigKey { name: "bot_rate_per_minute", default: Some("1200"), doc: "REST requests per minute per bot (in place of the user and write limits; 0 = no limit)." },
    ConfigKey { name: "webhook_rate_per_minute", default: Some("30"), doc: "Posts per minute to one incoming webhook (`POST /hooks/{id}/{secret}`; 0 = no limit)." },
    ConfigKey { name: "webhook_allow_loopback", default: Some("false"), doc: "Outgoing webhooks may call loopback addresses (127.0.0.0/8, ::1): for a receiver on the same machine. Link-local addresses are refused whatever this says." },
    ConfigKey { name: "webhook_allow_private", default: Some("false"), doc: "Outgoing webhooks may call private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)." },
    ConfigKey { name: "webhook_workers", default: Some("4"), doc: "Outgoing webhook calls one node makes at once (0: this node makes none, other nodes do)." },
    ConfigKey { name: "webhook_timeout_ms", default: Some("10000"), doc: "How long an outgoing webhook call may take (connect to last byte) before it counts as failed." },
    ConfigKey { name: "webhook_poll_ms", default: Some("1000"), doc: "How often a node looks for outgoing webhook deliveries that are due (a commit on the node wakes it at once)." },
    ConfigKey { name: "webhook_max_attempts", default: Some("8"), doc: "Attempts at one outgoing webhook delivery before it is marked failed." },
    ConfigKey { name: "webhook_retry_base_ms", default: Some("2000"), doc: "Wait after a delivery's first failed attempt; it doubles with each further one (with jitter)." },
    ConfigKey { name: "webhook_retry_max_ms", default: Some("3600000"), doc: "Longest wait between two attempts at a delivery." },
    ConfigKey { name: "webhook_circuit_failures", default: Some("5"), doc: "Failed calls in a row that open an outgoing webhook's circuit (its deliveries wait instead of being tried)." },
    ConfigKey { name: "webhook_circuit_open_ms", default: Some("60000"), doc: "How long an open circuit waits before one trial call; success closes it, failure opens it again." },
    ConfigKey { name: "webhook_log_retention_hours", default: Some("168"), doc: "How long finished outgoing webhook deliveries (delivered, failed, cancelled) stay in the delivery log." },
    ConfigKey { name: "max_outgoing_webhooks_per_room", default: Some("10"), doc: "Live outgoing webhooks one room may have (0 = no limit)." },
    ConfigKey { name: "upload_max_bytes", default: Some("26214400"), doc: "Largest file one upload (POST /api/v2/uploads) may carry, in bytes (default 25 MiB); larger: 413 too_large, refused while it streams in." },
    ConfigKey { name: "upload_quota_bytes", default: Some("1073741824"), doc: "Bytes one user's uploads may take in all (default 1 GiB; at least upload_max_bytes; 0 = no quota); beyond it: 413 quota_exceeded." },
    ConfigKey { name: "upload_grace_s", default: Some("3600"), doc: "Seconds a deleted message's attachments are kept before their files are deleted (0: at the next sweep)." },
    ConfigKey { name: "track_max_bytes", default: Some("209715200"), doc: "Largest audio file one track upload (POST /api/v2/tracks) may carry, in bytes (default 200 MiB); larger: 413 too_large, refused while it streams in." },
    ConfigKey { name: "track_quota_bytes", default: Some("2147483648"), doc: "Bytes one user's track library may take in all (default 2 GiB; at least track_max_bytes; 0 = no quota); beyond it: 413 quota_exceeded." },
    ConfigKey { name: "max_bots_per_user", default: Some("10"), doc: "Bot accounts one user may own (0 = no limit); more are refused with 409 quota_exceeded." },
    ConfigKey { name: "http_max_per_ip", default: Some("1000"), doc: "Connections one client address (an IPv6 /64) may hold on the main port; more are answered 503 too_many_connections and closed. Trusted proxies are not capped." },
    ConfigKey { name: "stream_ladder", default: Some("mp3-64,mp3-128,mp3-192,mp3-320,aac-128,opus-96"), doc: "Variants each live input is transcoded to (codec-kbps, comma-separated)." },
    ConfigKey { name: "stream_burst_ms", default: Some("2000"), doc: "Audio sent at once to a new progressive listener, in ms." },
    ConfigKey { name: "hls_segment_seconds", default: Some("2"), doc: "HLS target segment duration in seconds (segments end on the first frame boundary after it)." },
    ConfigKey { name: "hls_dvr_seconds", default: Some("7200"), doc: "How far back HLS listeners can rewind and clips can reach (segments kept on disk under data_dir/hls)." },
    ConfigKey { name: "clip_max_seconds", default: Some("300"), doc: "Longest clip a listener may cut, in seconds (longer requests answer 422 clip_too_long)." },
    ConfigKey { name: "clip_workers", default: Some("2"), doc: "Threads that cut clips (a bounded pool, not a thread per request)." },
    ConfigKey { name: "clip_queue", default: Some("16"), doc: "Clips admitted at once on this node (waiting for their audio, queued or being cut); beyond that 503 overloaded + Retry-After." },
    ConfigKey { name: "clips_per_user_hour", default: Some("30"), doc: "Clips one user may ask for per hour, across nodes when Redis is set (beyond that 429); 0 turns the limit off." },
    ConfigKey { name: "clip_expire_seconds", default: Some("604800"), doc: "Clips are deleted this long after they are cut (default a week)." },
    ConfigKey { name: "schedule_tick_ms", default: Some("5000"), doc: "How often each node looks for schedule slots that opened (100-600000 ms); a show_starting announcement is at most this late." },
    ConfigKey { name: "schedule_grace_s", default: Some("300"), doc: "Slots that opened at most this long ago are still announced (a node back from an outage catches up on these, not on older ones); at least schedule_tick_ms." },
    ConfigKey { name: "autodj_target_lufs", default: Some("-16"), doc: "Integrated loudness (LUFS, -40 to -5) the AutoDJ brings every track to, from the loudness measured on upload (gain capped at +12 dB, with a limiter)." },
    ConfigKey { name: "autodj_keeper_ms", default: Some("5000"), doc: "How often each node checks that every enabled AutoDJ is on air on some node, and starts it if none plays it (200-600000 ms)." },
    ConfigKey { name: "analytics_flush_ms", default: Some("2000"), doc: "How often each node writes its batch of listener session starts and ends to the store (50-60000 ms; a batch of 256 is written at once)." },
    ConfigKey { name: "analytics_hls_timeout_s", default: Some("30"), doc: "An HLS listener (a `sid` polling a media playlist) whose polls stop for this long has left (1-3600 s)." },
    ConfigKey { name: "analytics_retention_s", default: Some("604800"), doc: "Listener sessions that ended longer ago than this are folded into per-minute aggregates and deleted (default 7 days; 1-31536000 s)." },
    ConfigKey { name: "analytics_fold_s", default: Some("600"), doc: "How often each node folds expired listener sessions into the per-minute aggregates (1-86400 s)." },
    ConfigKey { name: "recordings", default: Some("true"), doc: "Archive every broadcast and publish it, loudness-normalised and trimmed, when it ends." },
    ConfigKey { name: "recording_target_lufs", default: Some("-16"), doc: "Integrated loudness (EBU R128, LUFS) recordings are normalised to." },
    ConfigKey { name: "recording_silence_dbfs", default: Some("-50"), doc: "Level (dBFS) below which leading and trailing audio counts as silence and is trimmed." },
    ConfigKey { name: "cors_origins", default: Some(""), doc: "Origins allowed to call the API from a browser page (comma-separated, e.g. https://radio.example); empty: same origin only." },
    ConfigKey { name: "trusted_proxies", default: Some(""), doc: "Reverse proxies (IPs or CIDR blocks, comma-separated) whose X-Forwarded-For gives the client's address; empty: the peer address is the client." },
    ConfigKey { name: "behind_tls_proxy", default: Some("false"), doc: "Clients reach Veza over HTTPS through a proxy: send Strict-Transport-Security." },
    ConfigKey { name: "totp_key", default: None, doc: "64 hex characters (32 bytes) that encrypt TOTP secrets at rest (`openssl rand -hex 32`); unset: derived from jwt_secret." },
    ConfigKey { name: "public_url", default: None, doc: "Base URL browsers reach Veza at (e.g. https://chat.example.org); OAuth redirect URIs are built from it. Unset: http://BIND." },
    ConfigKey { name: "oauth_google_client_id", default: None, doc: "Google OAuth client id: set it (with the secret) to offer log in with Google (OpenID Connect). Redirect URI: PUBLIC_URL/api/v2/auth/oauth/google/callback." },
    ConfigKey { name: "oauth_google_client_secret", default: None, doc: "Google OAuth client secret." },
    ConfigKey { name: "oauth_google_auth_url", default: Some("https://accounts.google.com/o/oauth2/v2/auth"), doc: "Google authorization endpoint." },
    ConfigKey { name: "oauth_google_token_url", default: Some("https://oauth2.googleapis.com/token"), doc: "Google token endpoint." },
    ConfigKey { name: "oauth_google_jwks_url", default: Some("https://www.googleapis.com/oauth2/v3/certs"), doc: "Google's signing keys (JWKS) that id_tokens are checked against." },
    ConfigKey { name: "oauth_google_issuer", default: Some("https://accounts.google.com"), doc: "The `iss` a Google id_token must carry." },
    ConfigKey { name: "oauth_github_client_id", default: None, doc: "GitHub OAuth app client id: set it (with the secret) to offer log in with GitHub. Redirect URI: PUBLIC_URL/api/v2/auth/oauth/github/callback." },
    ConfigKey { name: "oauth_github_client_secret", default: None, doc: "GitHub OAuth app client secret." },
    ConfigKey { name: "oauth_github_auth_url", default: Some("https://github.com/login/oauth/authorize"), doc: "GitHub authorization endpoint." },
    ConfigKey { name: "oauth_github_token_url", default: Some("https://github.com/login/oauth/access_token"), doc: "GitHub token endpoint." },
    ConfigKey { name: "oauth_github_api_url", default: Some("https://api.github.com"), doc: "GitHub REST API base (GET /user, /user/emails)." },
    ConfigKey { name: "oauth_discord_client_id", default: None, doc: "Discord OAuth client id: set it (with the secret) to offer log in with Discord. Redirect URI: PUBLIC_URL/api/v2/auth/oauth/discord/callback." },
    ConfigKey { name: "oauth_discord_client_secret", default: None, doc: "Discord OAuth client secret." },
    ConfigKey { name: "oauth_discord_auth_url", default: Some("https://discord.com/oauth2/authorize"), doc: "Discord authorization endpoint." },
    ConfigKey { name: "oauth_discord_token_url", default: Some("https://discord.com/api/oauth2/token"), doc: "Discord token endpoint." },
    ConfigKey { name: "oauth_discord_api_url", default: Some("https://discord.com/api"), doc: "Discord API base (GET /users/@me)." },
    ConfigKey { name: "tls_cert", default: None, doc: "PEM certificate chain: with tls_key, the HTTP port serves HTTPS (TLS 1.3 only) and sends HSTS." },
    ConfigKey { name: "tls_key", default: None, doc: "PEM private key for tls_cert." },
    ConfigKey { name: "streams_require_broadcaster", default: Some("false"), doc: "Only the broadcaster and admin roles may create streams." },
];

/// The table as text for `--help`.
pub fn help_text() -> String {
    let mut out = String::from(
        "Configuration (defaults < TOML file from --config or VEZA_CONFIG < environment):\n",
    );
    for key in KEYS {
        out.push_str(&format!(
            "  {:<28} {}\n  {:<28}   default: {}\n",
            key.env_var(),
            key.doc,
            "",
            key.default.unwrap_or("(unset)")
        ));
    }
    out
}
