//! What a broadcaster asks for: the effects chain as JSON, validated before it reaches the audio.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
#[error("{0}")]
pub struct InvalidEffect(pub String);

/// The whole chain, applied in order to the decoded input before every variant is encoded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EffectsSpec {
    #[serde(default)]
    pub chain: Vec<Effect>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Level change in dB.
    Gain { db: f64 },
    /// Parametric EQ: one biquad per band.
    Eq { bands: Vec<EqBand> },
    /// A delay line with feedback; `mix` is the wet share (0 = dry only, 1 = echo only).
    Echo {
        delay_ms: f64,
        #[serde(default)]
        feedback: f64,
        #[serde(default = "half")]
        mix: f64,
    },
    /// Freeverb-style room: `room_size` and `damping` in 0..=1, `mix` the wet share.
    Reverb {
        #[serde(default = "half")]
        room_size: f64,
        #[serde(default = "half")]
        damping: f64,
        #[serde(default = "quarter")]
        mix: f64,
    },
    /// Feed-forward compressor on the louder channel (stereo-linked).
    Compressor {
        threshold_db: f64,
        #[serde(default = "four")]
        ratio: f64,
        #[serde(default = "five")]
        attack_ms: f64,
        #[serde(default = "hundred")]
        release_ms: f64,
        #[serde(default)]
        makeup_db: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EqBand {
    #[serde(default)]
    pub kind: BandKind,
    pub freq: f64,
    pub gain_db: f64,
    #[serde(default = "q_default")]
    pub q: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BandKind {
    #[default]
    Peak,
    LowShelf,
    HighShelf,
}

fn half() -> f64 {
    0.5
}
fn quarter() -> f64 {
    0.25
}
fn four() -> f64 {
    4.0
}
fn five() -> f64 {
    5.0
}
fn hundred() -> f64 {
    100.0
}
fn q_default() -> f64 {
    0.707
}

/// Longest echo delay: bounds the delay line (2 s of stereo at 48 kHz = 768 KiB).
pub const MAX_ECHO_MS: f64 = 2000.0;
pub const MAX_EFFECTS: usize = 16;
pub const MAX_BANDS: usize = 10;

fn within(name: &str, value: f64, lo: f64, hi: f64) -> Result<(), InvalidEffect> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(InvalidEffect(format!(
            "{name} must be between {lo} and {hi}, got {value}"
        )))
    }
}

impl EffectsSpec {
    pub fn validate(&self) -> Result<(), InvalidEffect> {
        if self.chain.len() > MAX_EFFECTS {
            return Err(InvalidEffect(format!(
                "at most {MAX_EFFECTS} effects in a chain"
            )));
        }
        for effect in &self.chain {
            effect.validate()?;
        }
        Ok(())
    }
}

impl Effect {
    fn validate(&self) -> Result<(), InvalidEffect> {
        match *self {
            Effect::Gain { db } => within("gain.db", db, -60.0, 24.0),
            Effect::Eq { ref bands } => {
                if bands.is_empty() || bands.len() > MAX_BANDS {
                    return Err(InvalidEffect(format!("eq needs 1 to {MAX_BANDS} bands")));
                }
                for band in bands {
                    within("eq.freq", band.freq, 20.0, 20_000.0)?;
                    within("eq.gain_db", band.gain_db, -24.0, 24.0)?;
                    within("eq.q", band.q, 0.1, 18.0)?;
                }
                Ok(())
            }
            Effect::Echo {
                delay_ms,
                feedback,
                mix,
            } => {
                within("echo.delay_ms", delay_ms, 1.0, MAX_ECHO_MS)?;
                within("echo.feedback", feedback, 0.0, 0.95)?;
                within("echo.mix", mix, 0.0, 1.0)
            }
            Effect::Reverb {
                room_size,
                damping,
                mix,
            } => {
                within("reverb.room_size", room_size, 0.0, 1.0)?;
                within("reverb.damping", damping, 0.0, 1.0)?;
                within("reverb.mix", mix, 0.0, 1.0)
            }
            Effect::Compressor {
                threshold_db,
                ratio,
                attack_ms,
                release_ms,
                makeup_db,
            } => {
                within("compressor.threshold_db", threshold_db, -60.0, 0.0)?;
                within("compressor.ratio", ratio, 1.0, 20.0)?;
                within("compressor.attack_ms", attack_ms, 0.1, 1000.0)?;
                within("compressor.release_ms", release_ms, 1.0, 5000.0)?;
                within("compressor.makeup_db", makeup_db, 0.0, 24.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_chain_parses_and_validates() {
        let spec: EffectsSpec = serde_json::from_str(
            r#"{"chain":[{"type":"gain","db":-6},
                {"type":"eq","bands":[{"freq":100,"gain_db":3},{"kind":"high_shelf","freq":8000,"gain_db":-2,"q":0.7}]},
                {"type":"echo","delay_ms":250,"feedback":0.3,"mix":0.4},
                {"type":"reverb"},
                {"type":"compressor","threshold_db":-18}]}"#,
        )
        .unwrap();
        assert_eq!(spec.chain.len(), 5);
        spec.validate().unwrap();
    }

    #[test]
    fn out_of_range_and_unknown_values_are_refused() {
        let bad = |json: &str| {
            serde_json::from_str::<EffectsSpec>(json)
                .map_err(|e| e.to_string())
                .and_then(|s| s.validate().map_err(|e| e.0))
                .unwrap_err()
        };
        assert!(bad(r#"{"chain":[{"type":"gain","db":99}]}"#).contains("gain.db"));
        assert!(bad(r#"{"chain":[{"type":"echo","delay_ms":5000}]}"#).contains("delay_ms"));
        assert!(
            bad(r#"{"chain":[{"type":"echo","delay_ms":100,"feedback":1.5}]}"#)
                .contains("feedback")
        );
        assert!(bad(r#"{"chain":[{"type":"eq","bands":[]}]}"#).contains("bands"));
        assert!(bad(r#"{"chain":[{"type":"flanger"}]}"#).contains("flanger"));
        assert!(bad(r#"{"chain":[{"type":"gain","db":1,"x":2}]}"#).contains("x"));
    }
}
