//! Simulated buttons: a script of raw edges on simulated time, or events from a channel.
//!
//! [`ScriptedButtons`] runs the script through the same [`Debouncer`] as the GPIO driver and
//! moves a [`ManualClock`] instead of sleeping, so a test of a ten-second gesture runs in
//! microseconds and its timestamps are exact.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::{
    Button, ButtonConfig, ButtonEvent, Buttons, ButtonsError, Clock, Debouncer, Level, ManualClock,
};

/// One raw edge of a script: `after` the previous step, `button` goes to `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptStep {
    pub after: Duration,
    pub button: Button,
    pub level: Level,
}

impl ScriptStep {
    /// `button` goes down `after` the previous step.
    pub fn press(after: Duration, button: Button) -> Self {
        Self {
            after,
            button,
            level: Level::Pressed,
        }
    }

    /// `button` goes up `after` the previous step.
    pub fn release(after: Duration, button: Button) -> Self {
        Self {
            after,
            button,
            level: Level::Released,
        }
    }
}

/// Buttons driven by a script of raw edges on simulated time.
#[derive(Debug)]
pub struct ScriptedButtons {
    clock: ManualClock,
    debouncer: Debouncer,
    edges: VecDeque<(Duration, Button, Level)>,
    queue: VecDeque<ButtonEvent>,
}

impl ScriptedButtons {
    /// Creates buttons that play `steps`, timed from `clock`'s current time.
    ///
    /// [`Buttons::next_event`] moves `clock` forward to the time of each event it returns, or
    /// by the whole timeout when there is none. Share the clock with the other simulated
    /// devices so their timestamps agree.
    pub fn new(
        config: ButtonConfig,
        clock: ManualClock,
        steps: impl IntoIterator<Item = ScriptStep>,
    ) -> Self {
        let mut at = clock.now();
        let edges = steps
            .into_iter()
            .map(|step| {
                at += step.after;
                (at, step.button, step.level)
            })
            .collect();
        Self {
            clock,
            debouncer: Debouncer::new(config),
            edges,
            queue: VecDeque::new(),
        }
    }

    /// Returns whether the script is played out and no event is left to report.
    pub fn is_finished(&self) -> bool {
        self.edges.is_empty() && self.queue.is_empty() && self.debouncer.next_deadline().is_none()
    }

    /// Returns every remaining event, running the script to its end.
    pub fn drain(&mut self) -> Vec<ButtonEvent> {
        let mut events = Vec::new();
        while !self.is_finished() {
            if let Ok(Some(event)) = self.next_event(Duration::from_secs(3600)) {
                events.push(event);
            }
        }
        events
    }

    fn next_time(&self) -> Option<Duration> {
        let edge = self.edges.front().map(|(at, _, _)| *at);
        match (edge, self.debouncer.next_deadline()) {
            (Some(edge), Some(deadline)) => Some(edge.min(deadline)),
            (edge, deadline) => edge.or(deadline),
        }
    }
}

impl Buttons for ScriptedButtons {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, ButtonsError> {
        let deadline = self.clock.now() + timeout;
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }

            let next = match self.next_time() {
                Some(next) if next <= deadline => next.max(self.clock.now()),
                _ => {
                    self.clock.set(deadline);
                    return Ok(None);
                }
            };
            self.clock.set(next);

            let events = match self.edges.front() {
                Some(&(at, button, level)) if at <= next => {
                    self.edges.pop_front();
                    self.debouncer.edge(button, level, next)
                }
                _ => self.debouncer.advance(next),
            };
            self.queue.extend(events);
        }
    }
}

/// Buttons fed with ready-made events through a channel, in real time.
#[derive(Debug)]
pub struct ChannelButtons {
    events: Receiver<ButtonEvent>,
}

impl ChannelButtons {
    /// Creates the buttons and the sender that feeds them.
    pub fn new() -> (Self, Sender<ButtonEvent>) {
        let (sender, events) = mpsc::channel();
        (Self { events }, sender)
    }
}

impl Buttons for ChannelButtons {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, ButtonsError> {
        match self.events.recv_timeout(timeout) {
            Ok(event) => Ok(Some(event)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(ButtonsError::Disconnected),
        }
    }
}
