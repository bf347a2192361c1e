//! The node's AutoDJ programmes, by mount: an actor that starts them (a fed stream session plus a
//! mixer thread), passes controls to their mixers, attaches live sources to them, and forgets them
//! when their mixer ends. It owns the programmes' handles; the audio state is the mixers' own.

use super::live_input;
use super::lyrics::{self, LyricsClock};
use super::mixer::{Control, Mixer, MixerEvent};
use super::picker::PlayMode;
use super::playout::{Playout, TrackToPlay};
use crate::cluster::LeaseGuard;
use actix::prelude::*;
use bytes::Bytes;
use serde::Serialize;
use slog::{info, warn, Logger};
use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use veza_actors::ids::TrackId;
use veza_actors::registry::{MountInUse, Registry, StartFedBroadcast};
use veza_actors::stream::{NotifyRoom, SessionParams, SetTitle, StreamSession};
use veza_actors::{RoomId, StreamId};

/// How a programme plays.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub mode: PlayMode,
    pub crossfade: Duration,
    pub handover: Duration,
}

/// What a programme is playing now (for `GET .../autodj`).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct OnAir {
    /// The track on air (null while a live source is on, or before the first track).
    pub track: Option<OnAirTrack>,
    /// A live source has taken over.
    pub live: bool,
    /// Stream time (seconds since the AutoDJ went on air) of the last change.
    pub since: f64,
    /// The last live takeover: seconds from the source connecting to the handover's start.
    pub live_waited_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OnAirTrack {
    pub id: TrackId,
    pub title: String,
    pub artist: Option<String>,
    pub duration_ms: i64,
}

struct Programme {
    control: std_mpsc::Sender<Control>,
    session: Addr<StreamSession>,
    on_air: watch::Receiver<OnAir>,
    /// The attached live source's input, while one is connected.
    live: Option<mpsc::WeakSender<Bytes>>,
    /// Told apart from a later programme on the same mount when its end is reported.
    generation: u64,
    _lease: Option<LeaseGuard>,
}

pub struct Programmes {
    registry: Addr<Registry>,
    on_air: HashMap<String, Programme>,
    generation: u64,
    log: Logger,
}

impl Programmes {
    pub fn start(registry: Addr<Registry>, log: Logger) -> Addr<Self> {
        Programmes {
            registry,
            on_air: HashMap::new(),
            generation: 0,
            log,
        }
        .start()
    }
}

impl Actor for Programmes {
    type Context = Context<Self>;
}

/// The stream a programme goes on air for.
pub struct ProgrammeStream {
    pub id: StreamId,
    pub room: Option<RoomId>,
    pub mount: String,
    pub title: String,
    pub effects: veza_actors::stream::effects::EffectsSpec,
}

/// Puts a programme on air (refused if the mount is already on air on this node).
#[derive(Message)]
#[rtype(result = "Result<(), MountInUse>")]
pub struct StartProgramme {
    pub stream: ProgrammeStream,
    pub settings: Settings,
    pub picker: Box<dyn super::playout::Picker>,
    pub lease: Option<LeaseGuard>,
}

impl Handler<StartProgramme> for Programmes {
    type Result = ResponseActFuture<Self, Result<(), MountInUse>>;
    fn handle(&mut self, msg: StartProgramme, _: &mut Context<Self>) -> Self::Result {
        let StartProgramme {
            stream,
            settings,
            picker,
            lease,
        } = msg;
        let mount = stream.mount.clone();
        let fallback_title = stream.title.clone();
        let room = stream.room;
        let stream_id = stream.id;
        let started = self.registry.send(StartFedBroadcast(SessionParams {
            stream_id: stream.id,
            room,
            mount: stream.mount,
            title: stream.title,
            extension: "wav",
            effects: stream.effects,
        }));
        Box::pin(
            async move { started.await.unwrap_or(Err(MountInUse)) }
                .into_actor(self)
                .map(move |started, act, ctx| {
                    let (session, feed) = started?;
                    let started_ms = feed.started_wall_ms();
                    act.generation += 1;
                    let generation = act.generation;
                    let (control, control_rx) = std_mpsc::channel();
                    let (on_air_tx, on_air) = watch::channel(OnAir::default());
                    let playout = Playout::new(picker, settings.crossfade);
                    let mixer = Mixer::new(playout, feed, control_rx, settings.handover);
                    let me = ctx.address();
                    let reporter = Reporter {
                        session: session.clone(),
                        on_air: on_air_tx,
                        fallback_title,
                        lyrics: LyricsClock::default(),
                        room: room.map(|room| (room, act.registry.clone().recipient())),
                        stream: stream_id,
                        started_ms,
                        log: act.log.new(slog::o!("mount" => mount.clone())),
                    };
                    let thread_mount = mount.clone();
                    let spawned = std::thread::Builder::new()
                        .name(format!("autodj-{mount}"))
                        .spawn(move || {
                            let mut reporter = reporter;
                            mixer.run(|event| reporter.report(event));
                            me.do_send(ProgrammeEnded {
                                mount: thread_mount,
                                generation,
                            });
                        });
                    if let Err(e) = spawned {
                        warn!(act.log, "could not start the AutoDJ's mixer"; "error" => e.to_string());
                        return Err(MountInUse);
                    }
                    info!(act.log, "AutoDJ on air"; "mount" => &mount);
                    act.on_air.insert(
                        mount,
                        Programme {
                            control,
                            session,
                            on_air,
                            live: None,
                            generation,
                            _lease: lease,
                        },
                    );
                    Ok(())
                }),
        )
    }
}

/// Turns mixer events into the session's title (ICY, `now_playing`) and the status.
struct Reporter {
    session: Addr<StreamSession>,
    on_air: watch::Sender<OnAir>,
    fallback_title: String,
    lyrics: LyricsClock,
    /// The linked room, and where its events go.
    room: Option<(RoomId, Recipient<NotifyRoom>)>,
    stream: StreamId,
    started_ms: i64,
    log: Logger,
}

impl Reporter {
    fn report(&mut self, event: MixerEvent) {
        match event {
            MixerEvent::TrackStarted { track, at } => {
                let live = self.on_air.borrow().live;
                if !live {
                    self.session.do_send(SetTitle(track.display_title()));
                }
                // A track can start in a handover's fade-out: its lines wait with the track's.
                self.lyrics
                    .track_started(track.id, track.lyrics.as_deref(), at);
                let waited = self.on_air.borrow().live_waited_s;
                self.on_air.send_replace(OnAir {
                    track: Some(on_air_track(&track)),
                    live,
                    since: at,
                    live_waited_s: waited,
                });
            }
            MixerEvent::TrackFailed { track, error } => {
                warn!(self.log, "AutoDJ passed over a track it could not open"; "track" => track.id.0, "error" => error);
            }
            MixerEvent::LiveStarted {
                at,
                handover,
                waited,
            } => {
                info!(self.log, "live source takes over from the AutoDJ"; "waited_s" => waited);
                // The track pauses where the handover ends; its lines wait for it.
                self.lyrics.pause(at + handover);
                self.session.do_send(SetTitle(self.fallback_title.clone()));
                self.on_air.send_modify(|s| {
                    s.live = true;
                    s.since = at;
                    s.live_waited_s = Some(waited);
                });
            }
            MixerEvent::Rendered { to } => {
                let due = self.lyrics.due(to);
                if let Some((room, notify)) = &self.room {
                    for line in due {
                        let frame = lyrics::event(*room, self.stream, self.started_ms, &line);
                        notify.do_send(NotifyRoom { room: *room, frame });
                    }
                }
            }
            MixerEvent::LiveEnded {
                at,
                stalled,
                paused,
            } => {
                if stalled {
                    info!(self.log, "live source stalled: the AutoDJ plays until it delivers again"; "at" => at);
                }
                self.lyrics.resume(paused);
                let track = self.on_air.borrow().track.clone();
                if let Some(t) = &track {
                    self.session.do_send(SetTitle(match &t.artist {
                        Some(a) if !a.is_empty() => format!("{a} - {}", t.title),
                        _ => t.title.clone(),
                    }));
                }
                self.on_air.send_modify(|s| {
                    s.live = false;
                    s.since = at;
                });
            }
        }
    }
}

fn on_air_track(track: &TrackToPlay) -> OnAirTrack {
    OnAirTrack {
        id: track.id,
        title: track.title.clone(),
        artist: track.artist.clone(),
        duration_ms: track.duration_ms,
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct ProgrammeEnded {
    mount: String,
    generation: u64,
}

impl Handler<ProgrammeEnded> for Programmes {
    type Result = ();
    fn handle(&mut self, msg: ProgrammeEnded, _: &mut Context<Self>) {
        if self
            .on_air
            .get(&msg.mount)
            .is_some_and(|p| p.generation == msg.generation)
        {
            self.on_air.remove(&msg.mount);
            info!(self.log, "AutoDJ off air"; "mount" => msg.mount);
        }
    }
}

/// Passes a control to the programme on `mount`; false if none is on air here.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct ControlProgramme {
    pub mount: String,
    pub control: Control,
}

impl Handler<ControlProgramme> for Programmes {
    type Result = bool;
    fn handle(&mut self, msg: ControlProgramme, _: &mut Context<Self>) -> bool {
        self.on_air
            .get(&msg.mount)
            .is_some_and(|p| p.control.send(msg.control).is_ok())
    }
}

/// What the programme on `mount` plays now; `None` if none is on air here.
#[derive(Message)]
#[rtype(result = "Option<OnAir>")]
pub struct ProgrammeStatus(pub String);

impl Handler<ProgrammeStatus> for Programmes {
    type Result = Option<OnAir>;
    fn handle(&mut self, msg: ProgrammeStatus, _: &mut Context<Self>) -> Option<OnAir> {
        self.on_air.get(&msg.0).map(|p| p.on_air.borrow().clone())
    }
}

/// A source connected to `mount`: if a programme is on air there, the source is decoded into its
/// mixer and the answer is where to write its bytes (`Some(Err)`: another source is already on).
#[derive(Message)]
#[rtype(result = "Option<Result<(mpsc::Sender<Bytes>, Addr<StreamSession>), MountInUse>>")]
pub struct AttachLive {
    pub mount: String,
    pub extension: &'static str,
}

impl Handler<AttachLive> for Programmes {
    type Result = Option<Result<(mpsc::Sender<Bytes>, Addr<StreamSession>), MountInUse>>;
    fn handle(&mut self, msg: AttachLive, _: &mut Context<Self>) -> Self::Result {
        let log = self.log.new(slog::o!("mount" => msg.mount.clone()));
        let programme = self.on_air.get_mut(&msg.mount)?;
        if programme
            .live
            .as_ref()
            .is_some_and(|w| w.upgrade().is_some())
        {
            return Some(Err(MountInUse));
        }
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (input, live) = match live_input::attach(msg.extension, counter, log) {
            Ok(attached) => attached,
            Err(e) => {
                warn!(self.log, "could not start a live source's decoder"; "error" => e.to_string());
                return Some(Err(MountInUse));
            }
        };
        if programme.control.send(Control::Live(live)).is_err() {
            return Some(Err(MountInUse));
        }
        programme.live = Some(input.downgrade());
        Some(Ok((input, programme.session.clone())))
    }
}
