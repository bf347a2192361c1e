//! TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps) for two-factor login: secrets, codes, the
//! `otpauth://` URI and QR code for authenticator apps, and the secret's encryption at rest
//! (XChaCha20-Poly1305 under a key from the configuration).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps of clock skew accepted either side.
pub const SKEW: i64 = 1;

/// A fresh 160-bit secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    secret
}

/// The code for one time step (RFC 4226 dynamic truncation).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret) else {
        return u32::MAX; // HMAC takes keys of any length; never reached.
    };
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0F) as usize;
    let bin = u32::from_be_bytes([
        digest[offset] & 0x7F,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bin % 10u32.pow(DIGITS)
}

pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The step whose code `code` is, within ±SKEW of `now_step` and after `last_used` (a code is
/// good once: a step already used cannot be used again).
pub fn verify(secret: &[u8], code: &str, now_step: i64, last_used: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    (now_step - SKEW..=now_step + SKEW)
        .filter(|step| last_used.is_none_or(|last| *step > last))
        .find(|step| code_at(secret, *step) == wanted)
}

/// RFC 4648 base32 without padding (what authenticator apps read).
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in data {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        uri_escape(issuer),
        uri_escape(account),
        base32(secret),
        uri_escape(issuer)
    )
}

/// The URI as an SVG QR code.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

/// Encrypts and decrypts TOTP secrets for storage.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    /// Keys the backup-code digests (derived from the same key, domain-separated).
    mac_key: [u8; 32],
}

/// Marks a secret sealed to its user (the user id is the AEAD's associated data).
const BOUND: &str = "v2:";

impl SecretBox {
    /// From 32 key bytes (the configured `totp_key`, or one derived from the JWT secret).
    pub fn new(key: &[u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"veza backup code digests v1\0");
        h.update(key);
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
            mac_key: h.finalize().into(),
        }
    }

    /// `v2:base64(nonce || ciphertext)`, bound to `user`: the ciphertext copied into another
    /// account's row does not open there.
    pub fn seal_for(&self, user: i64, plain: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = bound_to(user);
        let payload = chacha20poly1305::aead::Payload {
            msg: plain,
            aad: &aad,
        };
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{BOUND}{}", STANDARD.encode(out))
    }

    /// Opens what [`SecretBox::seal_for`] sealed for `user`, or (rows from before binding) what
    /// [`SecretBox::seal`] sealed.
    pub fn open_for(&self, user: i64, stored: &str) -> Option<Vec<u8>> {
        let Some(bound) = stored.strip_prefix(BOUND) else {
            return self.open(stored);
        };
        let raw = STANDARD.decode(bound).ok()?;
        if raw.len() < 24 + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(24);
        let aad = bound_to(user);
        let payload = chacha20poly1305::aead::Payload {
            msg: sealed,
            aad: &aad,
        };
        self.cipher.decrypt(XNonce::from_slice(nonce), payload).ok()
    }

    /// Whether `stored` is bound to its user already.
    pub fn is_bound(stored: &str) -> bool {
        stored.starts_with(BOUND)
    }

    /// What is stored of a backup code: HMAC-SHA256 under a server key, of the user id and the
    /// normalised code (`k1:` + hex), so a leaked table cannot be checked offline without the key.
    pub fn backup_digest(&self, user: i64, normalised: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key) else {
            return String::new();
        };
        mac.update(&user.to_le_bytes());
        mac.update(normalised.as_bytes());
        format!("k1:{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// A key derived from another secret (domain-separated SHA-256).
    pub fn derive(secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"veza totp secret encryption v1\0");
        h.update(secret);
        Self::new(&h.finalize().into())
    }

    /// `base64(nonce || ciphertext)`.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    pub fn open(&self, stored: &str) -> Option<Vec<u8>> {
        let raw = STANDARD.decode(stored).ok()?;
        if raw.len() < 24 + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(24);
        self.cipher.decrypt(XNonce::from_slice(nonce), sealed).ok()
    }
}

fn bound_to(user: i64) -> Vec<u8> {
    let mut aad = b"veza totp secret of user ".to_vec();
    aad.extend_from_slice(&user.to_le_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_secrets_open_only_for_their_user_and_old_rows_still_open() {
        let b = SecretBox::derive(b"one");
        let sealed = b.seal_for(7, b"secret bytes");
        assert!(SecretBox::is_bound(&sealed));
        assert_eq!(
            b.open_for(7, &sealed).as_deref(),
            Some(&b"secret bytes"[..])
        );
        assert_eq!(b.open_for(8, &sealed), None, "moved to another account");
        assert_eq!(b.open(&sealed), None);
        let legacy = b.seal(b"old row");
        assert!(!SecretBox::is_bound(&legacy));
        assert_eq!(b.open_for(7, &legacy).as_deref(), Some(&b"old row"[..]));
    }

    #[test]
    fn backup_digests_depend_on_the_key_the_user_and_the_code() {
        let (a, b) = (SecretBox::derive(b"one"), SecretBox::derive(b"two"));
        let d = a.backup_digest(7, "abcd-efgh");
        assert!(d.starts_with("k1:"));
        assert_eq!(d, a.backup_digest(7, "abcd-efgh"));
        assert_ne!(d, b.backup_digest(7, "abcd-efgh"));
        assert_ne!(d, a.backup_digest(8, "abcd-efgh"));
        assert_ne!(d, a.backup_digest(7, "abcd-efgi"));
    }

    #[test]
    fn rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", last 6 digits.
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, 287082),
            (1111111109, 81804),
            (1111111111, 50471),
            (1234567890, 5924),
            (2000000000, 279037),
        ] {
            assert_eq!(code_at(secret, step_of(time)), code, "T={time}");
        }
    }

    #[test]
    fn codes_verify_with_skew_once_and_only_as_six_digits() {
        let secret = new_secret();
        let now = 1_000_000;
        let code = |s: i64| format!("{:06}", code_at(&secret, s));
        assert_eq!(verify(&secret, &code(now), now, None), Some(now));
        assert_eq!(verify(&secret, &code(now - 1), now, None), Some(now - 1));
        assert_eq!(verify(&secret, &code(now + 1), now, None), Some(now + 1));
        assert_eq!(
            verify(&secret, &code(now - 2), now, None),
            None,
            "outside the skew"
        );
        assert_eq!(
            verify(&secret, &code(now), now, Some(now)),
            None,
            "no replay"
        );
        assert_eq!(verify(&secret, "12345", now, None), None);
        assert_eq!(verify(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn base32_and_the_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        let uri = otpauth_uri("Veza", "al ice", b"12345678901234567890");
        assert!(uri.starts_with(
            "otpauth://totp/Veza:al%20ice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Veza"
        ));
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let a = SecretBox::derive(b"one");
        let sealed = a.seal(b"secret bytes");
        assert_ne!(sealed.as_bytes(), b"secret bytes");
        assert_eq!(a.open(&sealed).as_deref(), Some(&b"secret bytes"[..]));
        assert_eq!(SecretBox::derive(b"two").open(&sealed), None);
        assert_eq!(a.open("garbage"), None);
    }
}
