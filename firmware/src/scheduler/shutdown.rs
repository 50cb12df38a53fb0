//! The stop signal of the service and of each principal's fetch task.
//!
//! A [`Shutdown`] is checked between the steps of a fetch run: the step under way (one message,
//! one move batch) finishes, then the run ends. Every step is idempotent, so stopping between
//! steps loses nothing.

use std::future;

use tokio::sync::watch;

/// The sending side: triggers the stop of every [`Shutdown`] made from it.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

impl ShutdownTrigger {
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self { sender }
    }

    /// Returns a signal that turns on when [`ShutdownTrigger::trigger`] is called.
    pub fn signal(&self) -> Shutdown {
        Shutdown {
            receiver: Some(self.sender.subscribe()),
        }
    }

    /// Asks every holder of a signal to stop after its current step.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

impl Default for ShutdownTrigger {
    fn default() -> Self {
        Self::new()
    }
}

/// The receiving side of a stop request.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: Option<watch::Receiver<bool>>,
}

impl Shutdown {
    /// A signal that never turns on.
    pub fn never() -> Self {
        Self { receiver: None }
    }

    /// Tells whether a stop was requested.
    pub fn is_triggered(&self) -> bool {
        self.receiver
            .as_ref()
            .is_some_and(|receiver| *receiver.borrow())
    }

    /// Waits until a stop is requested. Waits forever when the trigger was dropped untriggered.
    pub async fn triggered(&self) {
        let Some(receiver) = &self.receiver else {
            return future::pending().await;
        };
        let mut receiver = receiver.clone();
        if receiver.wait_for(|stop| *stop).await.is_err() {
            future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_reaches_every_signal() {
        let trigger = ShutdownTrigger::new();
        let first = trigger.signal();
        let second = first.clone();
        assert!(!first.is_triggered());

        trigger.trigger();
        first.triggered().await;
        assert!(second.is_triggered());
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_trigger_never_fires() {
        let signal = ShutdownTrigger::new().signal();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(3600), signal.triggered());
        assert!(waited.await.is_err());
        assert!(!signal.is_triggered());
        assert!(!Shutdown::never().is_triggered());
    }
}
