//! diesel's view of the tables in schema/ (identical on both backends).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_lower -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        email_verified -> Bool,
    }
}

diesel::table! {
    backup_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    rooms (id) {
        id -> BigInt,
        name -> Text,
        topic -> Nullable<Text>,
        private -> Bool,
        owner_id -> BigInt,
        last_seq -> BigInt,
        slow_mode_s -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        kind -> Text,
        member_key -> Nullable<Text>,
    }
}

diesel::table! {
    room_members (room_id, user_id) {
        room_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        joined_at -> BigInt,
        banned_until -> Nullable<BigInt>,
        muted_until -> Nullable<BigInt>,
        kicked_at -> Nullable<BigInt>,
        read_seq -> BigInt,
        notifications_muted -> Bool,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        author_id -> BigInt,
        kind -> Text,
        body -> Text,
        thread_id -> Nullable<BigInt>,
        client_id -> Nullable<Text>,
        created_at -> BigInt,
        edited_at -> Nullable<BigInt>,
        deleted_at -> Nullable<BigInt>,
        reply_count -> BigInt,
        last_reply_at -> Nullable<BigInt>,
        also_in_room -> Bool,
    }
}

diesel::table! {
    reactions (message_id, user_id, emoji) {
        message_id -> BigInt,
        user_id -> BigInt,
        emoji -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        room_id -> Nullable<BigInt>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        details -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(rooms -> users (owner_id));
diesel::joinable!(room_members -> rooms (room_id));
diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(reactions -> messages (message_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    rooms,
    room_members,
    messages,
    reactions,
    audit_log,
);

diesel::table! {
    streams (id) {
        id -> BigInt,
        owner_id -> BigInt,
        room_id -> Nullable<BigInt>,
        title -> Text,
        mount -> Text,
        key_hash -> Text,
        scheduled_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        effects -> Text,
    }
}

diesel::joinable!(streams -> users (owner_id));
diesel::allow_tables_to_appear_in_same_query!(streams, users);

diesel::table! {
    oauth_identities (id) {
        id -> BigInt,
        user_id -> BigInt,
        provider -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    oauth_flows (state_hash) {
        state_hash -> Text,
        kind -> Text,
        provider -> Text,
        pkce_verifier -> Text,
        nonce -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(oauth_identities -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(oauth_identities, users);

diesel::table! {
    bots (user_id) {
        user_id -> BigInt,
        owner_id -> BigInt,
        token_hash -> Text,
        token_hint -> Text,
        session_id -> BigInt,
        created_at -> BigInt,
        rotated_at -> BigInt,
    }
}

diesel::table! {
    bot_commands (room_id, name) {
        room_id -> BigInt,
        name -> Text,
        bot_id -> BigInt,
        description -> Text,
        args -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(bot_commands -> users (bot_id));
diesel::allow_tables_to_appear_in_same_query!(bot_commands, users);

diesel::table! {
    outgoing_webhooks (id) {
        id -> BigInt,
        room_id -> BigInt,
        name -> Text,
        url -> Text,
        secret_sealed -> Text,
        events -> Text,
        triggers -> Text,
        created_by -> BigInt,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        consecutive_failures -> BigInt,
        circuit_open_until -> Nullable<BigInt>,
        trial_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        hook_id -> BigInt,
        event -> Text,
        message_id -> BigInt,
        detail -> Nullable<Text>,
        payload -> Nullable<Text>,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        last_status -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        latency_ms -> Nullable<BigInt>,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(webhook_deliveries -> outgoing_webhooks (hook_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, outgoing_webhooks);

diesel::table! {
    incoming_webhooks (id) {
        id -> BigInt,
        room_id -> BigInt,
        user_id -> BigInt,
        secret_hash -> Text,
        created_by -> BigInt,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(incoming_webhooks -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(incoming_webhooks, users);

diesel::table! {
    custom_emoji (id) {
        id -> BigInt,
        room_id -> Nullable<BigInt>,
        shortcode -> Text,
        content_type -> Text,
        image -> Binary,
        width -> BigInt,
        height -> BigInt,
        created_by -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        room_id -> Nullable<BigInt>,
        message_id -> Nullable<BigInt>,
        seq -> Nullable<BigInt>,
        actor_id -> Nullable<BigInt>,
        created_at -> BigInt,
        read_at -> Nullable<BigInt>,
        stream_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    user_blocks (user_id, blocked_id) {
        user_id -> BigInt,
        blocked_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    pins (room_id, message_id) {
        room_id -> BigInt,
        message_id -> BigInt,
        pinned_by -> Nullable<BigInt>,
        pinned_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(notifications, users);
diesel::allow_tables_to_appear_in_same_query!(notifications, rooms);
diesel::allow_tables_to_appear_in_same_query!(notifications, messages);
diesel::allow_tables_to_appear_in_same_query!(notifications, room_members);
diesel::allow_tables_to_appear_in_same_query!(pins, messages);
diesel::allow_tables_to_appear_in_same_query!(pins, users);
diesel::allow_tables_to_appear_in_same_query!(user_blocks, users);
diesel::allow_tables_to_appear_in_same_query!(user_blocks, room_members);
diesel::allow_tables_to_appear_in_same_query!(user_blocks, rooms);

diesel::table! {
    uploads (id) {
        id -> BigInt,
        owner_id -> BigInt,
        room_id -> BigInt,
        message_id -> Nullable<BigInt>,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        storage_key -> Text,
        width -> Nullable<BigInt>,
        height -> Nullable<BigInt>,
        thumbnail_key -> Nullable<Text>,
        created_at -> BigInt,
        delete_after -> Nullable<BigInt>,
        origin -> Nullable<Text>,
    }
}

diesel::table! {
    tracks (id) {
        id -> BigInt,
        owner_id -> BigInt,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        artwork_key -> Nullable<Text>,
        title -> Text,
        artist -> Nullable<Text>,
        album -> Nullable<Text>,
        year -> Nullable<BigInt>,
        track_no -> Nullable<BigInt>,
        duration_ms -> BigInt,
        loudness_lufs -> Nullable<Double>,
        lyrics -> Nullable<Text>,
        created_at -> BigInt,
        origin -> Nullable<Text>,
    }
}

diesel::table! {
    stream_slots (id) {
        id -> BigInt,
        stream_id -> BigInt,
        kind -> Text,
        weekday -> Nullable<BigInt>,
        local_date -> Nullable<Text>,
        local_time -> Text,
        time_zone -> Text,
        duration_min -> BigInt,
        once_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    stream_follows (stream_id, user_id) {
        stream_id -> BigInt,
        user_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    schedule_firings (slot_id, occurrence_ms) {
        slot_id -> BigInt,
        occurrence_ms -> BigInt,
        node -> BigInt,
        fired_at -> BigInt,
    }
}

diesel::table! {
    stream_autodj (stream_id) {
        stream_id -> BigInt,
        playlist_id -> BigInt,
        mode -> Text,
        crossfade_ms -> BigInt,
        handover_ms -> BigInt,
        enabled -> Bool,
        updated_at -> BigInt,
    }
}

diesel::joinable!(stream_slots -> streams (stream_id));
diesel::joinable!(stream_autodj -> streams (stream_id));
diesel::allow_tables_to_appear_in_same_query!(stream_autodj, streams);
diesel::joinable!(stream_follows -> streams (stream_id));
diesel::allow_tables_to_appear_in_same_query!(stream_slots, streams);
diesel::allow_tables_to_appear_in_same_query!(stream_follows, streams);
diesel::allow_tables_to_appear_in_same_query!(notifications, streams);

diesel::table! {
    listener_sessions (id) {
        id -> BigInt,
        stream_id -> BigInt,
        variant -> Text,
        kind -> Text,
        node -> BigInt,
        started_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    listener_minutes (stream_id, minute, variant) {
        stream_id -> BigInt,
        minute -> BigInt,
        variant -> Text,
        listeners -> BigInt,
        sessions_started -> BigInt,
        listen_ms -> BigInt,
    }
}

diesel::table! {
    playlists (id) {
        id -> BigInt,
        owner_id -> BigInt,
        name -> Text,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    playlist_editors (playlist_id, user_id) {
        playlist_id -> BigInt,
        user_id -> BigInt,
        added_at -> BigInt,
    }
}

diesel::table! {
    playlist_items (id) {
        id -> BigInt,
        playlist_id -> BigInt,
        track_id -> BigInt,
        position -> Text,
        added_by -> BigInt,
        added_at -> BigInt,
    }
}

diesel::joinable!(playlist_items -> tracks (track_id));
diesel::joinable!(playlist_editors -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(playlist_items, tracks);
diesel::allow_tables_to_appear_in_same_query!(playlist_editors, users);
diesel::allow_tables_to_appear_in_same_query!(playlist_editors, playlists);
diesel::allow_tables_to_appear_in_same_query!(playlists, users);
diesel::joinable!(playlists -> users (owner_id));
diesel::joinable!(playlist_editors -> playlists (playlist_id));
