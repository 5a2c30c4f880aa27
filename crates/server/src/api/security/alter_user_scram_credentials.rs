//! AlterUserScramCredentials (API key 51, v0), KIP-554: SCRAM-SHA-256/512 credentials, salted by
//! the client, stored durably in the metadata log, with Kafka's checks (4096–16384 iterations,
//! known mechanisms, no user twice in one request, deleting a missing credential ->
//! RESOURCE_NOT_FOUND), made by the controller. Not used for authentication yet: the only
//! listener is PLAINTEXT.

use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, Reply, Request, ScramChange};
use strom_cluster::records::ScramCredential;
use strom_codec::kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use strom_codec::kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    // Requested changes per user, in first-seen order.
    let mut changes: Vec<ScramChange> = Vec::new();
    let mut push = |user: String, change: (i8, Option<ScramCredential>)| match changes
        .iter_mut()
        .find(|c| c.user == user)
    {
        Some(c) => c.changes.push(change),
        None => changes.push(ScramChange {
            user,
            changes: vec![change],
        }),
    };
    for d in &request.deletions {
        push(d.name.as_str().to_string(), (d.mechanism, None));
    }
    for u in &request.upsertions {
        push(
            u.name.as_str().to_string(),
            (
                u.mechanism,
                Some(ScramCredential {
                    iterations: u.iterations,
                    salt: hex(&u.salt),
                    salted_password: hex(&u.salted_password),
                }),
            ),
        );
    }
    let users: Vec<String> = changes.iter().map(|c| c.user.clone()).collect();
    let outcomes = match ctx
        .state
        .metadata
        .submit(Request::AlterScramCredentials { changes })
        .await
    {
        Ok(Reply::AlterScramCredentials(outcomes)) => outcomes,
        Ok(other) => vec![
            Err(ApiError::new(
                ErrorCode::UnknownServerError,
                format!("unexpected controller reply {other:?}")
            ));
            users.len()
        ],
        Err(e) => vec![Err(e.to_api_error()); users.len()],
    };
    let results = users
        .into_iter()
        .zip(outcomes)
        .map(|(user, outcome)| {
            let r = AlterUserScramCredentialsResult::default().with_user(str_bytes(user));
            match outcome {
                Ok(()) => r,
                Err(e) => r
                    .with_error_code(e.code.code())
                    .with_error_message(Some(str_bytes(e.message))),
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}
