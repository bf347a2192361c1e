//! The variant ladder: which encodings a live input is turned into (`mp3-128`, `aac-128`, ...).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Mp3,
    Aac,
    Opus,
}

/// One rung: a codec at a bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    pub codec: Codec,
    pub kbps: u32,
}

impl Variant {
    pub fn content_type(&self) -> &'static str {
        match self.codec {
            Codec::Mp3 => "audio/mpeg",
            Codec::Aac => "audio/aac",
            Codec::Opus => "audio/ogg",
        }
    }

    /// The output sample rate of this variant (AAC: nominal; it follows the input, 44.1 or 48 kHz).
    pub fn sample_rate(&self) -> u32 {
        match self.codec {
            Codec::Opus => 48_000,
            _ => 44_100,
        }
    }

    /// Whether this build can encode it (all three codecs now; kept for ladders of the future).
    pub fn supported(&self) -> bool {
        matches!(self.codec, Codec::Mp3 | Codec::Opus | Codec::Aac)
    }
}

impl serde::Serialize for Variant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = match self.codec {
            Codec::Mp3 => "mp3",
            Codec::Aac => "aac",
            Codec::Opus => "opus",
        };
        write!(f, "{codec}-{}", self.kbps)
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (codec, kbps) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not CODEC-KBPS (e.g. mp3-128)"))?;
        let codec = match codec {
            "mp3" => Codec::Mp3,
            "aac" => Codec::Aac,
            "opus" => Codec::Opus,
            other => return Err(format!("unknown codec {other:?}")),
        };
        let kbps: u32 = kbps.parse().map_err(|_| format!("bad bitrate in {s:?}"))?;
        let allowed: &[u32] = match codec {
            Codec::Mp3 => &[32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
            Codec::Aac => &[64, 96, 128, 192, 256],
            Codec::Opus => &[32, 48, 64, 96, 128, 160, 192],
        };
        if !allowed.contains(&kbps) {
            return Err(format!("{s:?}: unsupported bitrate for this codec"));
        }
        Ok(Variant { codec, kbps })
    }
}

/// The default ladder of DESIGN section 3.
pub const DEFAULT_LADDER: &str = "mp3-64,mp3-128,mp3-192,mp3-320,aac-128,opus-96";

pub fn parse_ladder(text: &str) -> Result<Vec<Variant>, String> {
    let mut ladder = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v: Variant = part.parse()?;
        if !ladder.contains(&v) {
            ladder.push(v);
        }
    }
    if ladder.is_empty() {
        return Err("the ladder needs at least one variant".into());
    }
    Ok(ladder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ladder_parses() {
        let ladder = parse_ladder(DEFAULT_LADDER).unwrap();
        assert_eq!(ladder.len(), 6);
        assert_eq!(ladder[1].to_string(), "mp3-128");
        assert_eq!(
            ladder[5],
            Variant {
                codec: Codec::Opus,
                kbps: 96
            }
        );
        assert!(parse_ladder("mp3-129").is_err());
        assert!(parse_ladder("flac-128").is_err());
        assert!(parse_ladder("").is_err());
    }
}
