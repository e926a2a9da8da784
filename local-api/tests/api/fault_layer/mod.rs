//! The tests' fault layer over the store and the mailer of a running local API, and its call
//! log: every store call (named by its port method, through `iam_recording::RecordingStore`'s
//! hook) and every mail, in order, while a request is under test.
//!
//! A fault hits the call at one position of that sequence:
//! - [`Fault::Fail`]: the call never reaches the store or SES, and answers their error.
//! - [`Fault::StallBefore`]: the call hangs on its way (a tokio sleep of an hour) until the
//!   SDK's operation timeout gives up on it; it never reaches the store or SES.
//! - [`Fault::StallAfter`]: the call reaches the store or SES and takes effect, then its answer
//!   hangs until the timeout: the caller sees a failure for a write that went through.
//!
//! How a stall becomes a 503 without waiting real seconds: in AWS the SDK's timeouts
//! (`app::sdk_timeouts`, 3 s per operation) turn a hung call into an error, which the routes
//! answer with a 503 (the function's own timeout is longer than a route's worst case, see
//! `template.yaml`). Here the layer applies that timeout itself, scaled down to
//! [`SDK_TIMEOUT`], around its hour-long sleep. `fault_matrix.rs` holds the real SDK to it once:
//! a DynamoDB and an SES endpoint that accept connections and never answer give a 503 after the
//! SDK's own 3 s.

use certificate_recovery::iam_recording::{RecordingStore, StoreCallHook};
use certificate_recovery::mailer::{Email, Mailer, MailerError};
use certificate_recovery::store::{Store, StoreError, StoreResult};
use local_api::Options;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The SDK's operation timeout (3 s in AWS), scaled down for the tests.
pub const SDK_TIMEOUT: Duration = Duration::from_millis(20);
/// How long a stalled call would hang if nothing gave up on it.
const HANG: Duration = Duration::from_secs(3600);
/// What an injected error says: it must never reach a response body.
pub const INJECTED: &str = "injected fault";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Fail,
    StallBefore,
    StallAfter,
}

impl Fault {
    pub const ALL: [Fault; 3] = [Fault::Fail, Fault::StallBefore, Fault::StallAfter];

    /// Whether the call reached the store or SES (and took effect).
    pub fn reaches(self) -> bool {
        self == Fault::StallAfter
    }
}

/// What the layer saw of one request under test.
#[derive(Debug, Clone, Default)]
pub struct Armed {
    /// Every call, in order: `store.<method>` or `mailer.send`.
    pub calls: Vec<String>,
    /// The call the fault hit, if the request got that far.
    pub hit: Option<String>,
}

#[derive(Default)]
struct State {
    /// Calls are logged (and a fault may hit) only while a request is under test, so that the
    /// test's own reads of the store do not count.
    armed: bool,
    calls: Vec<String>,
    fault: Option<(usize, Fault)>,
    hit: Option<String>,
}

/// The plan shared by the store hook and the mailer wrapper of one local API.
#[derive(Default)]
pub struct Plan {
    state: Mutex<State>,
    /// Every email SES (or the outbox) accepted, in order, armed or not.
    delivered: Mutex<Vec<Email>>,
}

impl Plan {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Wraps the local API's store and mailer in this plan.
    pub fn install(self: &Arc<Self>, options: &mut Options) {
        let plan = self.clone();
        options.wrap_store = Some(Arc::new(move |store: Arc<dyn Store>| -> Arc<dyn Store> {
            Arc::new(RecordingStore::new(store).with_hook(Arc::new(Hook(plan.clone()))))
        }));
        let plan = self.clone();
        options.wrap_mailer = Some(Arc::new(move |inner: Arc<dyn Mailer>| -> Arc<dyn Mailer> {
            Arc::new(FaultMailer { inner, plan: plan.clone() })
        }));
    }

    /// Starts logging the calls of a request; `fault` hits the call at that position (from 1).
    pub fn arm(&self, fault: Option<(usize, Fault)>) {
        let mut state = self.state.lock().unwrap();
        *state = State { armed: true, fault, ..State::default() };
    }

    /// Stops logging: what the request did.
    pub fn disarm(&self) -> Armed {
        let mut state = self.state.lock().unwrap();
        state.armed = false;
        Armed { calls: std::mem::take(&mut state.calls), hit: state.hit.take() }
    }

    pub fn delivered(&self) -> Vec<Email> {
        self.delivered.lock().unwrap().clone()
    }

    /// Logs a call; the fault it meets, if any, and its position.
    fn enter(&self, call: String) -> (usize, Option<Fault>) {
        let mut state = self.state.lock().unwrap();
        if !state.armed {
            return (0, None);
        }
        state.calls.push(call.clone());
        let position = state.calls.len();
        match state.fault {
            Some((at, fault)) if at == position => {
                state.hit = Some(call);
                (position, Some(fault))
            }
            _ => (position, None),
        }
    }

    /// The fault of the call at `position`, once it reached the store.
    fn fault_at(&self, position: usize) -> Option<Fault> {
        let state = self.state.lock().unwrap();
        state.fault.filter(|(at, _)| *at == position && position > 0).map(|(_, fault)| fault)
    }
}

/// A hang that the (scaled-down) SDK timeout cuts: always gives up.
async fn stall() -> &'static str {
    match tokio::time::timeout(SDK_TIMEOUT, tokio::time::sleep(HANG)).await {
        Ok(()) => unreachable!("an hour passed"),
        Err(_) => "operation timed out (injected fault)",
    }
}

struct Hook(Arc<Plan>);

#[async_trait::async_trait]
impl StoreCallHook for Hook {
    async fn before(&self, method: &'static str) -> StoreResult<u64> {
        let (position, fault) = self.0.enter(format!("store.{method}"));
        match fault {
            Some(Fault::Fail) => Err(StoreError::Unavailable(INJECTED.into())),
            Some(Fault::StallBefore) => Err(StoreError::Unavailable(stall().await.into())),
            Some(Fault::StallAfter) | None => Ok(position as u64),
        }
    }

    async fn after(&self, _method: &'static str, call: u64) -> StoreResult<()> {
        match self.0.fault_at(call as usize) {
            Some(Fault::StallAfter) => Err(StoreError::Unavailable(stall().await.into())),
            _ => Ok(()),
        }
    }
}

struct FaultMailer {
    inner: Arc<dyn Mailer>,
    plan: Arc<Plan>,
}

#[async_trait::async_trait]
impl Mailer for FaultMailer {
    async fn send(&self, email: &Email) -> Result<String, MailerError> {
        let (_, fault) = self.plan.enter("mailer.send".into());
        match fault {
            Some(Fault::Fail) => return Err(MailerError(INJECTED.into())),
            Some(Fault::StallBefore) => return Err(MailerError(stall().await.into())),
            _ => {}
        }
        let message_id = self.inner.send(email).await?;
        self.plan.delivered.lock().unwrap().push(email.clone());
        if fault == Some(Fault::StallAfter) {
            return Err(MailerError(stall().await.into()));
        }
        Ok(message_id)
    }
}
