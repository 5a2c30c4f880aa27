//! AlterUserScramCredentials (API key 51, v0), KIP-554: SCRAM-SHA-256/512 credentials, salted by
//! the client, stored durably in the metadata log, with Kafka's checks (4096–16384 iterations,
//! known mechanisms, no user twice in one request, deleting a missing credential ->
//! RESOURCE_NOT_FOUND). Not used for authentication yet: the only listener is PLAINTEXT.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use strom_codec::kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use strom_codec::ErrorCode;
use strom_storage::meta::{MetaRecord, ScramCredential};

use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::error::topic_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

/// `ScramMechanism` codes: SCRAM-SHA-256 and SCRAM-SHA-512.
const MECHANISMS: [i8; 2] = [1, 2];
const ITERATIONS_MIN: i32 = 4096;
const ITERATIONS_MAX: i32 = 16384;
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
/// Whether one user's changes are acceptable, and why not.
type Verdict = Result<(), (ErrorCode, String)>;
enum Change {
    Delete(i8),
    Upsert(i8, ScramCredential),
}
pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    // Requested changes per user, in first-seen order.
    let mut order: Vec<String> = Vec::new();
    let mut changes: HashMap<String, Vec<Change>> = HashMap::new();
    let mut push = |user: String, change: Change| {
        if !changes.contains_key(&user) {
            order.push(user.clone());
        }
        changes.entry(user).or_default().push(change);
    };
    for d in &request.deletions {
        push(d.name.as_str().to_string(), Change::Delete(d.mechanism));
    }
    for u in &request.upsertions {
        push(
            u.name.as_str().to_string(),
            Change::Upsert(
                u.mechanism,
                ScramCredential {
                    iterations: u.iterations,
                    salt: hex(&u.salt),
                    salted_password: hex(&u.salted_password),
                },
            ),
        );
    }
    let state = Arc::clone(ctx.state);
    let results = tokio::task::spawn_blocking(move || {
        let outcome = state.topics.commit_meta(|meta| {
            let mut records = Vec::new();
            let verdicts: Vec<(String, Verdict)> = order
                .iter()
                .map(|user| {
                    let verdict = check(user, &changes[user], meta.scram.get(user));
                    if verdict.is_ok() {
                        for c in &changes[user] {
                            records.push(match c {
                                Change::Delete(m) => MetaRecord::DeleteScramCredential {
                                    user: user.clone(),
                                    mechanism: *m,
                                },
                                Change::Upsert(m, cred) => MetaRecord::ScramCredential {
                                    user: user.clone(),
                                    mechanism: *m,
                                    credential: cred.clone(),
                                },
                            });
                        }
                    }
                    (user.clone(), verdict)
                })
                .collect();
            (records, verdicts)
        });
        match outcome {
            Ok(verdicts) => verdicts
                .into_iter()
                .map(|(user, verdict)| {
                    let r = AlterUserScramCredentialsResult::default().with_user(str_bytes(user));
                    match verdict {
                        Ok(()) => r,
                        Err((code, message)) => r
                            .with_error_code(code.code())
                            .with_error_message(Some(str_bytes(message))),
                    }
                })
                .collect::<Vec<_>>(),
            Err(e) => order
                .into_iter()
                .map(|user| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(str_bytes(user))
                        .with_error_code(topic_error_code(&e).code())
                        .with_error_message(Some(str_bytes(e.to_string())))
                })
                .collect(),
        }
    })
    .await
    .unwrap_or_default();
    AlterUserScramCredentialsResponse::default().with_results(results)
}
fn check(
    user: &str,
    changes: &[Change],
    existing: Option<&BTreeMap<i8, ScramCredential>>,
) -> Verdict {
    if user.is_empty() {
        return Err((
            ErrorCode::UnacceptableCredential,
            "username must not be empty".into(),
        ));
    }
    if changes.len() > 1 {
        return Err((
            ErrorCode::DuplicateResource,
            format!("a user credential cannot be altered twice in the same request: {user}"),
        ));
    }
    for c in changes {
        let mechanism = match c {
            Change::Delete(m) | Change::Upsert(m, _) => *m,
        };
        if !MECHANISMS.contains(&mechanism) {
            return Err((
                ErrorCode::UnsupportedSaslMechanism,
                format!(
                    "unknown SCRAM mechanism {mechanism} (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512)"
                ),
            ));
        }
        match c {
            Change::Delete(m) => {
                if !existing.is_some_and(|e| e.contains_key(m)) {
                    return Err((
                        ErrorCode::ResourceNotFound,
                        format!("attempt to delete a user credential that does not exist: {user}"),
                    ));
                }
            }
            Change::Upsert(_, cred) => {
                if cred.iterations < ITERATIONS_MIN {
                    return Err((
                        ErrorCode::UnacceptableCredential,
                        format!("too few iterations: at least {ITERATIONS_MIN}"),
                    ));
                }
                if cred.iterations > ITERATIONS_MAX {
                    return Err((
                        ErrorCode::UnacceptableCredential,
                        format!("too many iterations: at most {ITERATIONS_MAX}"),
                    ));
                }
                if cred.salted_password.is_empty() || cred.salt.is_empty() {
                    return Err((
                        ErrorCode::UnacceptableCredential,
                        "salt and salted password must not be empty".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}
