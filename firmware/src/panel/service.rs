//! The front panel in `practicebox run`: the board's display, buttons and LEDs, fed with the
//! status snapshots of the service.
//!
//! Four pieces run beside the service's runtime: a thread that waits for button events, one
//! that reads the USB keyboards, a tokio task that forwards each new status snapshot, and the
//! panel's own thread. A panel that
//! cannot start is logged and left out, because the box keeps fetching without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use practicebox_hardware::pi::{GpioButtons, GpioLeds, Ssd1306Display};
use practicebox_hardware::{ButtonConfig, Buttons, board};
use rand::SeedableRng as _;
use tokio::sync::watch;

use super::certificates::CertificateSource;
use super::controller::{Panel, PanelContext, PanelInput};
use super::eid_reader::PcscConnector;
use super::keyboard::{self, EvdevKeys};
use super::network::NetworkInfo;
use super::runner::{self, PanelRunner};
use super::settings::SETTINGS_FILE;
use super::stick_certificates::StickCertificates;
use crate::config::ServiceConfig;
use crate::credentials::CredentialVault;
use crate::ehealth::clock::Clock;
use crate::mandates;
use crate::status::StatusSnapshot;
use crate::stick::StickMounter;
use crate::store::StoreHandle;

/// How long the button thread waits for an event before it checks for the stop.
const BUTTON_POLL: Duration = Duration::from_millis(500);

/// The running panel; [`PanelHandle::stop`] turns it off.
#[derive(Debug)]
pub struct PanelHandle {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    forward: tokio::task::JoinHandle<()>,
    /// The USB stick watcher, when it started.
    stick_watcher: Option<tokio::task::JoinHandle<()>>,
}

impl PanelHandle {
    /// Stops the panel: its LEDs go off and its display dark. Waits for its threads, which
    /// takes up to a second unless a slow wizard step is under way.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.forward.abort();
        if let Some(stick_watcher) = &self.stick_watcher {
            stick_watcher.abort();
        }
        let joined = tokio::task::spawn_blocking(move || {
            for thread in self.threads {
                if thread.join().is_err() {
                    tracing::error!("a front panel thread panicked");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("waiting for the front panel threads failed");
        }
    }
}

/// Starts the panel on the board's devices, from the tokio runtime.
pub fn start(
    config: &ServiceConfig,
    store: StoreHandle,
    snapshots: watch::Receiver<StatusSnapshot>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<PanelHandle> {
    let panel_config = &config.panel;
    let display = Ssd1306Display::open(&panel_config.i2c_bus, board::OLED_ADDRESS)
        .context("cannot open the front panel display")?;
    let leds =
        GpioLeds::open(&panel_config.gpio_chip).context("cannot open the front panel LEDs")?;
    let buttons = GpioButtons::open(&panel_config.gpio_chip, ButtonConfig::default())
        .context("cannot open the front panel buttons")?;

    let (certificates, stick_watcher) = StickCertificates::on_box(StickMounter::default());
    let context = context(config, store, Box::new(certificates))?;
    let panel = Panel::new(context, snapshots.borrow().clone(), clock.now());
    let runner = PanelRunner::new(panel, display, leds);

    let stop = Arc::new(AtomicBool::new(false));
    let (inputs, receiver) = mpsc::channel();
    let button_thread = spawn_buttons(buttons, inputs.clone(), Arc::clone(&stop))?;
    let keys = EvdevKeys::system(panel_config.keyboard_layout);
    let key_thread = keyboard::spawn_reader(keys, inputs.clone(), Arc::clone(&stop))
        .context("cannot start the keyboard thread")?;
    let forward = tokio::spawn(forward_snapshots(snapshots, inputs));
    let panel_stop = Arc::clone(&stop);
    let panel_thread = std::thread::Builder::new()
        .name("panel".into())
        .spawn(move || runner::run(runner, &receiver, &panel_stop, || clock.now()))
        .context("cannot start the front panel thread")?;
    tracing::info!("front panel started");
    Ok(PanelHandle {
        stop,
        threads: vec![button_thread, key_thread, panel_thread],
        forward,
        stick_watcher,
    })
}

/// Builds the panel's context from the configuration, reading keystores from `certificates`.
fn context(
    config: &ServiceConfig,
    store: StoreHandle,
    certificates: Box<dyn CertificateSource + Send>,
) -> anyhow::Result<PanelContext> {
    let panel_config = &config.panel;
    let vault = CredentialVault::open(&config.data_dir.join("credentials"))
        .context("cannot open the credentials for the front panel")?;
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    // The wizard checks against `[mandates]`, like `practicebox setup` and `mandate add`.
    let mandate_settings = mandates::command::settings(config, &mut rng)
        .inspect_err(|error| tracing::error!(%error, "the mandate wizard cannot run"))
        .map_err(|error| error.to_string());
    Ok(PanelContext {
        store,
        vault,
        mandate_settings,
        certificates,
        eid: Box::new(PcscConnector::new(panel_config.reader.clone())),
        rng,
        settings_file: config.data_dir.join(SETTINGS_FILE),
        network: Box::new(NetworkInfo::of_this_machine),
    })
}

fn spawn_buttons(
    mut buttons: GpioButtons,
    inputs: Sender<PanelInput>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<JoinHandle<()>> {
    let thread = std::thread::Builder::new()
        .name("panel-buttons".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match buttons.next_event(BUTTON_POLL) {
                    Ok(Some(event)) => {
                        if inputs.send(PanelInput::Button(event)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, "reading the front panel buttons failed");
                        std::thread::sleep(BUTTON_POLL);
                    }
                }
            }
        })
        .context("cannot start the button thread")?;
    Ok(thread)
}

async fn forward_snapshots(
    mut snapshots: watch::Receiver<StatusSnapshot>,
    inputs: Sender<PanelInput>,
) {
    while snapshots.changed().await.is_ok() {
        let snapshot = snapshots.borrow_and_update().clone();
        if inputs.send(PanelInput::Status(Box::new(snapshot))).is_err() {
            return;
        }
    }
}
