//! Fault injection and chaos: the settings tests turn to make the simulator misbehave on purpose.
//!
//! Every random decision comes from one ChaCha20 generator seeded by the simulator's seed, so a
//! run with the same seed and the same sequence of calls injects the same faults. The knobs that
//! belong to other parts of the simulator (the clock, the index shift of the platform, the forced
//! token lifetime of the STS) are set through the admin API, which delegates to their owners.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::soap::BinaryMode;
use crate::wire::Fault;

/// The operation selector that matches every operation.
pub const ANY_OPERATION: &str = "*";

/// What goes wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Injection {
    /// A platform SOAP fault with this code (for example `SOA-02001`), sent with HTTP 500.
    SoapFault {
        code: String,
        /// The fault message; a generic text for the code when absent.
        #[serde(default)]
        message: Option<String>,
    },
    /// An HTTP 500 response with an empty body (no SOAP fault).
    Http500,
    /// An HTTP 503 response with an empty body, as a load balancer sends it.
    Http503,
    /// The connection is closed without any response.
    DropConnection,
    /// The call is served normally, after this delay.
    Delay { millis: u64 },
}

impl Injection {
    /// Returns the platform fault this injection sends, if it is a SOAP fault.
    pub fn soap_fault(&self) -> Option<Fault> {
        let Injection::SoapFault { code, message } = self else {
            return None;
        };
        let (default_message, retry) = match code.as_str() {
            "SOA-00001" => ("Service error", true),
            "SOA-01001" => ("Service call not authenticated", false),
            "SOA-01002" => ("Service call not authorized", false),
            "SOA-02001" => (
                "Service not available. Please contact your system administrator",
                true,
            ),
            "SOA-02002" => ("Service temporarily not available. Please try later", true),
            _ => ("Injected fault", false),
        };
        let message = message
            .clone()
            .unwrap_or_else(|| default_message.to_owned());
        Some(Fault::system(code.clone(), message, retry))
    }
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// On each of the next `count` matching calls, then the rule is removed.
    NextCalls(u32),
    /// On each matching call with this probability, from 0.0 to 1.0.
    Rate(f64),
}

/// One fault injection rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The operation name as in the WSDL (`getMessagesList`, `sendMessage`,
    /// `RequestSecurityToken`, `GetEtk`), or `*` for every operation.
    pub operation: String,
    pub injection: Injection,
    pub trigger: Trigger,
}

/// Errors when setting knobs.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KnobError {
    #[error("invalid fault rate {0}; give a probability from 0.0 to 1.0")]
    InvalidRate(f64),
    #[error("invalid fault rule for operation {0:?}; `next-calls` needs a count of at least 1")]
    ZeroCount(String),
    #[error("invalid SOAP fault code {0:?}; give a platform code such as SOA-02001")]
    EmptyCode(String),
}

/// What the transport does with one call, decided before it is served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallPlan {
    /// A fault to send instead of serving the call (never [`Injection::Delay`]).
    pub injection: Option<Injection>,
    /// How long to wait before answering (configured latency plus injected delays).
    pub delay: Duration,
}

/// A snapshot of the knobs this module owns, as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnobSnapshot {
    pub seed: u64,
    pub rules: Vec<FaultRule>,
    /// Latency per operation in milliseconds; the `*` entry applies to every operation.
    pub latency_millis: HashMap<String, u64>,
    pub binary_mode: BinaryMode,
    pub double_base64: bool,
    /// Whether the SOAPAction header must name the Body's operation.
    pub soap_action_check: bool,
}

/// The fault injection state, shared by the transport and the admin API.
#[derive(Debug)]
pub struct Knobs {
    seed: u64,
    state: Mutex<KnobState>,
}

#[derive(Debug)]
struct KnobState {
    rng: ChaCha20Rng,
    rules: Vec<FaultRule>,
    latency: HashMap<String, Duration>,
    binary_mode: BinaryMode,
    double_base64: bool,
    soap_action_check: bool,
}

impl Knobs {
    /// Creates knobs with no injected faults, no latency, MTOM binary content and the SOAPAction
    /// check on.
    pub fn new(seed: u64) -> Self {
        let state = KnobState {
            rng: ChaCha20Rng::seed_from_u64(seed),
            rules: Vec::new(),
            latency: HashMap::new(),
            // The platform's default: MTOM, as the consultation cookbook's MTOM policy suggests.
            binary_mode: BinaryMode::Mtom,
            double_base64: false,
            soap_action_check: true,
        };
        Self {
            seed,
            state: Mutex::new(state),
        }
    }

    /// Adds a fault rule. Rules are tried in the order they were added; the first that fires wins.
    pub fn add_rule(&self, rule: FaultRule) -> Result<(), KnobError> {
        validate_rule(&rule)?;
        self.lock().rules.push(rule);
        Ok(())
    }

    /// Removes every fault rule.
    pub fn clear_rules(&self) {
        self.lock().rules.clear();
    }

    /// Sets the latency of `operation` (or of every operation for `*`).
    pub fn set_latency(&self, operation: &str, latency: Duration) {
        let mut state = self.lock();
        if latency.is_zero() {
            state.latency.remove(operation);
        } else {
            state.latency.insert(operation.to_owned(), latency);
        }
    }

    /// Sets how binary content of replies travels (inline, swaRef or MTOM).
    pub fn set_binary_mode(&self, mode: BinaryMode) {
        self.lock().binary_mode = mode;
    }

    pub fn binary_mode(&self) -> BinaryMode {
        self.lock().binary_mode
    }

    /// Makes getFullMessage base64-encode content once more before the wire encoding, as some
    /// senders do.
    pub fn set_double_base64(&self, enabled: bool) {
        self.lock().double_base64 = enabled;
    }

    pub fn double_base64(&self) -> bool {
        self.lock().double_base64
    }

    /// Turns the check of the SOAPAction header against the Body's operation on or off (see
    /// [`crate::soap::check_soap_action`]), for tests of clients that send other actions.
    pub fn set_soap_action_check(&self, enabled: bool) {
        self.lock().soap_action_check = enabled;
    }

    pub fn soap_action_check(&self) -> bool {
        self.lock().soap_action_check
    }

    /// Decides the fate of one call of `operation`, consuming "next calls" counts and random draws.
    pub fn plan_call(&self, operation: &str) -> CallPlan {
        let mut state = self.lock();
        let mut plan = CallPlan {
            injection: None,
            delay: state.latency_of(operation),
        };

        let mut index = 0;
        while index < state.rules.len() {
            let rule = &state.rules[index];
            if rule.operation != ANY_OPERATION && rule.operation != operation {
                index += 1;
                continue;
            }
            let fires = match rule.trigger {
                Trigger::NextCalls(_) => true,
                Trigger::Rate(rate) => {
                    let rate = rate.clamp(0.0, 1.0);
                    state.rng.random_bool(rate)
                }
            };
            if !fires {
                index += 1;
                continue;
            }

            let injection = state.rules[index].injection.clone();
            index = state.consume(index);
            match injection {
                Injection::Delay { millis } => plan.delay += Duration::from_millis(millis),
                other => {
                    plan.injection = Some(other);
                    break;
                }
            }
        }
        plan
    }

    /// Returns the current settings.
    pub fn snapshot(&self) -> KnobSnapshot {
        let state = self.lock();
        KnobSnapshot {
            seed: self.seed,
            rules: state.rules.clone(),
            latency_millis: state
                .latency
                .iter()
                .map(|(operation, latency)| (operation.clone(), latency.as_millis() as u64))
                .collect(),
            binary_mode: state.binary_mode,
            double_base64: state.double_base64,
            soap_action_check: state.soap_action_check,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KnobState> {
        // A poisoned lock only means a thread panicked while holding it; the state stays valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KnobState {
    fn latency_of(&self, operation: &str) -> Duration {
        self.latency
            .get(operation)
            .or_else(|| self.latency.get(ANY_OPERATION))
            .copied()
            .unwrap_or_default()
    }

    /// Counts one firing of rule `index` and returns the index of the next rule to look at.
    fn consume(&mut self, index: usize) -> usize {
        if let Trigger::NextCalls(count) = &mut self.rules[index].trigger {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.rules.remove(index);
                return index;
            }
        }
        index + 1
    }
}

fn validate_rule(rule: &FaultRule) -> Result<(), KnobError> {
    match rule.trigger {
        Trigger::Rate(rate) if !(0.0..=1.0).contains(&rate) => {
            return Err(KnobError::InvalidRate(rate));
        }
        Trigger::NextCalls(0) => return Err(KnobError::ZeroCount(rule.operation.clone())),
        _ => {}
    }
    if let Injection::SoapFault { code, .. } = &rule.injection
        && code.trim().is_empty()
    {
        return Err(KnobError::EmptyCode(code.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(operation: &str, injection: Injection, trigger: Trigger) -> FaultRule {
        FaultRule {
            operation: operation.to_owned(),
            injection,
            trigger,
        }
    }

    #[test]
    fn next_calls_fire_then_expire() {
        let knobs = Knobs::new(7);
        knobs
            .add_rule(rule(
                "getBoxInfo",
                Injection::Http503,
                Trigger::NextCalls(2),
            ))
            .unwrap();

        assert_eq!(knobs.plan_call("getMessagesList").injection, None);
        assert_eq!(
            knobs.plan_call("getBoxInfo").injection,
            Some(Injection::Http503)
        );
        assert_eq!(
            knobs.plan_call("getBoxInfo").injection,
            Some(Injection::Http503)
        );
        assert_eq!(knobs.plan_call("getBoxInfo").injection, None);
        assert!(knobs.snapshot().rules.is_empty());
    }

    #[test]
    fn rate_is_deterministic_by_seed() {
        let draws = |seed| {
            let knobs = Knobs::new(seed);
            knobs
                .add_rule(rule("*", Injection::DropConnection, Trigger::Rate(0.5)))
                .unwrap();
            (0..64)
                .map(|_| knobs.plan_call("getFullMessage").injection.is_some())
                .collect::<Vec<_>>()
        };
        let first = draws(42);
        assert_eq!(first, draws(42));
        let fired = first.iter().filter(|fired| **fired).count();
        assert!(
            (16..=48).contains(&fired),
            "a rate of 0.5 fired {fired} times out of 64"
        );
    }

    #[test]
    fn delay_adds_to_latency() {
        let knobs = Knobs::new(1);
        knobs.set_latency("*", Duration::from_millis(20));
        knobs
            .add_rule(rule(
                "sendMessage",
                Injection::Delay { millis: 100 },
                Trigger::NextCalls(1),
            ))
            .unwrap();
        let plan = knobs.plan_call("sendMessage");
        assert_eq!(plan.injection, None);
        assert_eq!(plan.delay, Duration::from_millis(120));
        assert_eq!(
            knobs.plan_call("sendMessage").delay,
            Duration::from_millis(20)
        );
    }

    #[test]
    fn invalid_rules_are_rejected() {
        let knobs = Knobs::new(1);
        let error = knobs
            .add_rule(rule("*", Injection::Http500, Trigger::Rate(1.5)))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid fault rate 1.5; give a probability from 0.0 to 1.0"
        );
        let error = knobs
            .add_rule(rule("x", Injection::Http500, Trigger::NextCalls(0)))
            .unwrap_err();
        assert_eq!(error, KnobError::ZeroCount("x".to_owned()));
    }

    #[test]
    fn soap_fault_injection_carries_code() {
        let injection = Injection::SoapFault {
            code: "SOA-02001".to_owned(),
            message: None,
        };
        let fault = injection.soap_fault().expect("a SOAP fault");
        assert_eq!(fault.code, "SOA-02001");
        assert!(fault.retry);
    }

    #[test]
    fn rule_json_shape() {
        let json = r#"{"operation":"getBoxInfo","injection":{"kind":"soap-fault","code":"SOA-02001"},
                       "trigger":{"next-calls":1}}"#;
        let parsed: FaultRule = serde_json::from_str(json).expect("valid rule JSON");
        assert_eq!(parsed.trigger, Trigger::NextCalls(1));
        assert_eq!(
            parsed.injection,
            Injection::SoapFault {
                code: "SOA-02001".to_owned(),
                message: None
            }
        );
    }
}
