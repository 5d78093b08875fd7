//! Conversions between the 0.2 generated types and the host's domain types
//! (the kinetic ones are in `kinetic.rs`).

use super::{guest, host};
use crate::runtime::slots::command::CommandOutput;
use crate::runtime::slots::state::{Expect, StateEntry};
use crate::runtime::slots::telemetry::TelemetryEvent;
use crate::runtime::{Level, PackError, PackErrorKind};

impl From<host::types::Error> for PackError {
    fn from(e: host::types::Error) -> Self {
        use host::types::Error as E;
        let (kind, message) = match e {
            E::InvalidInput(m) => (PackErrorKind::InvalidInput, m),
            E::NotFound(m) => (PackErrorKind::NotFound, m),
            E::Denied(m) => (PackErrorKind::Denied, m),
            E::Conflict(m) => (PackErrorKind::Conflict, m),
            E::Unavailable(m) => (PackErrorKind::Unavailable, m),
            E::Timeout(m) => (PackErrorKind::Timeout, m),
            E::Internal(m) => (PackErrorKind::Internal, m),
        };
        PackError { kind, message }
    }
}

impl From<PackError> for host::types::Error {
    fn from(e: PackError) -> Self {
        use host::types::Error as E;
        match e.kind {
            PackErrorKind::InvalidInput => E::InvalidInput(e.message),
            PackErrorKind::NotFound => E::NotFound(e.message),
            PackErrorKind::Denied => E::Denied(e.message),
            PackErrorKind::Conflict => E::Conflict(e.message),
            PackErrorKind::Unavailable => E::Unavailable(e.message),
            PackErrorKind::Timeout => E::Timeout(e.message),
            PackErrorKind::Internal => E::Internal(e.message),
        }
    }
}

impl From<host::types::Level> for Level {
    fn from(l: host::types::Level) -> Self {
        use host::types::Level as L;
        match l {
            L::Trace => Self::Trace,
            L::Debug => Self::Debug,
            L::Info => Self::Info,
            L::Warn => Self::Warn,
            L::Error => Self::Error,
        }
    }
}

impl From<Level> for host::types::Level {
    fn from(l: Level) -> Self {
        use Level as L;
        match l {
            L::Trace => Self::Trace,
            L::Debug => Self::Debug,
            L::Info => Self::Info,
            L::Warn => Self::Warn,
            L::Error => Self::Error,
        }
    }
}

impl From<guest::state::Entry> for StateEntry {
    fn from(e: guest::state::Entry) -> Self {
        Self {
            value: e.value,
            generation: e.generation,
        }
    }
}

impl From<Expect> for guest::state::Expect {
    fn from(e: Expect) -> Self {
        match e {
            Expect::Absent => Self::Absent,
            Expect::Generation(g) => Self::Generation(g),
        }
    }
}

impl From<&TelemetryEvent> for guest::telemetry::Event {
    fn from(e: &TelemetryEvent) -> Self {
        Self {
            name: e.name.clone(),
            level: e.level.into(),
            timestamp_ms: e.timestamp_ms,
            attributes: e.attributes.clone(),
        }
    }
}

impl From<guest::command::Output> for CommandOutput {
    fn from(o: guest::command::Output) -> Self {
        Self {
            text: o.text,
            json: o.json,
        }
    }
}

mod deployer_records {
    //! Deployer records.

    use super::super::guest::deployer as w;
    use crate::runtime::slots::deployer as d;
    use crate::types::SourceKind;

    impl From<w::TargetInfo> for d::TargetInfo {
        fn from(t: w::TargetInfo) -> Self {
            Self {
                target: t.target,
                description: t.description,
                supports_traffic_split: t.supports_traffic_split,
                supports_observe: t.supports_observe,
                max_live_revisions: t.max_live_revisions,
                attributes: t.attributes,
            }
        }
    }

    impl From<&d::BundleRef> for w::Bundle {
        fn from(b: &d::BundleRef) -> Self {
            Self {
                id: b.id.clone(),
                name: b.name.clone(),
                version: b.version.clone(),
                source: match b.source {
                    SourceKind::FeatureBranch => w::SourceKind::FeatureBranch,
                    SourceKind::Main => w::SourceKind::Main,
                    SourceKind::ReleaseTag => w::SourceKind::ReleaseTag,
                },
                source_ref: b.source_ref.clone(),
                commit: b.commit.clone(),
                files: b
                    .files
                    .iter()
                    .map(|f| w::BundleFile {
                        path: f.path.clone(),
                        sha256: f.sha256.clone(),
                        size: f.size,
                    })
                    .collect(),
                payload_dir: b.payload_dir.clone(),
                attributes: b.attributes.clone(),
            }
        }
    }

    impl From<&d::RevisionRef> for w::Revision {
        fn from(r: &d::RevisionRef) -> Self {
            Self {
                environment: r.environment.clone(),
                deployment: r.deployment.clone(),
                id: r.id.clone(),
                sequence: r.sequence,
            }
        }
    }

    fn change_from(c: w::Change) -> d::Change {
        match c {
            w::Change::Create => d::Change::Create,
            w::Change::Update => d::Change::Update,
            w::Change::Delete => d::Change::Delete,
            w::Change::NoOp => d::Change::NoOp,
        }
    }

    fn change_to(c: d::Change) -> w::Change {
        match c {
            d::Change::Create => w::Change::Create,
            d::Change::Update => w::Change::Update,
            d::Change::Delete => w::Change::Delete,
            d::Change::NoOp => w::Change::NoOp,
        }
    }

    impl From<w::DeployPlan> for d::Plan {
        fn from(p: w::DeployPlan) -> Self {
            Self {
                summary: p.summary,
                steps: p
                    .steps
                    .into_iter()
                    .map(|s| d::PlanStep {
                        id: s.id,
                        change: change_from(s.change),
                        resource: s.resource,
                        summary: s.summary,
                        attributes: s.attributes,
                    })
                    .collect(),
            }
        }
    }

    impl From<&d::Plan> for w::DeployPlan {
        fn from(p: &d::Plan) -> Self {
            Self {
                summary: p.summary.clone(),
                steps: p
                    .steps
                    .iter()
                    .map(|s| w::PlanStep {
                        id: s.id.clone(),
                        change: change_to(s.change),
                        resource: s.resource.clone(),
                        summary: s.summary.clone(),
                        attributes: s.attributes.clone(),
                    })
                    .collect(),
            }
        }
    }

    impl From<w::ApplyReport> for d::ApplyReport {
        fn from(r: w::ApplyReport) -> Self {
            Self {
                steps: r.steps.into_iter().map(Into::into).collect(),
                endpoint: r.endpoint,
                attributes: r.attributes,
            }
        }
    }

    impl From<w::HealthReport> for d::Health {
        fn from(h: w::HealthReport) -> Self {
            Self {
                status: match h.status {
                    w::HealthStatus::Healthy => d::HealthStatus::Healthy,
                    w::HealthStatus::Degraded => d::HealthStatus::Degraded,
                    w::HealthStatus::Unhealthy => d::HealthStatus::Unhealthy,
                    w::HealthStatus::Unknown => d::HealthStatus::Unknown,
                },
                message: h.message,
                attributes: h.attributes,
            }
        }
    }

    impl From<&d::Weight> for w::TrafficWeight {
        fn from(x: &d::Weight) -> Self {
            Self {
                revision: x.revision.clone(),
                basis_points: x.basis_points,
            }
        }
    }

    impl From<w::TrafficReport> for d::TrafficReport {
        fn from(r: w::TrafficReport) -> Self {
            Self {
                generation: r.generation,
                applied: r
                    .applied
                    .into_iter()
                    .map(|x| d::Weight {
                        revision: x.revision,
                        basis_points: x.basis_points,
                    })
                    .collect(),
                message: r.message,
            }
        }
    }

    impl From<w::Check> for d::Check {
        fn from(c: w::Check) -> Self {
            Self {
                name: c.name,
                ok: c.ok,
                detail: c.detail,
                fix: c.fix,
            }
        }
    }

    impl From<w::StepResult> for d::StepResult {
        fn from(s: w::StepResult) -> Self {
            Self {
                id: s.id,
                ok: s.ok,
                message: s.message,
            }
        }
    }

    impl From<w::ObservedRevision> for d::Observed {
        fn from(o: w::ObservedRevision) -> Self {
            Self {
                deployment: o.deployment,
                revision: o.revision,
                state: o.state,
                digest: o.digest,
                endpoint: o.endpoint,
                attributes: o.attributes,
            }
        }
    }
}
