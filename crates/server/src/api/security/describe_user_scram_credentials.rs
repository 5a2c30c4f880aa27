//! DescribeUserScramCredentials (API key 50, v0), KIP-554: which SCRAM mechanisms and iteration
//! counts each user has (never the salted password). Describing a missing user answers
//! RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use strom_cluster::records::ScramCredential;
use strom_codec::kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use strom_codec::kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let image = ctx.state.metadata.image();
    let all = &image.scram;
    let info = |creds: &BTreeMap<i8, ScramCredential>| -> Vec<CredentialInfo> {
        creds
            .iter()
            .map(|(m, c)| {
                CredentialInfo::default()
                    .with_mechanism(*m)
                    .with_iterations(c.iterations)
            })
            .collect()
    };
    let users: Vec<String> = request
        .users
        .unwrap_or_default()
        .iter()
        .map(|u| u.name.as_str().to_string())
        .collect();
    let results = if users.is_empty() {
        all.iter()
            .map(|(user, creds)| {
                DescribeUserScramCredentialsResult::default()
                    .with_user(str_bytes(user.clone()))
                    .with_credential_infos(info(creds))
            })
            .collect()
    } else {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for u in &users {
            *counts.entry(u.as_str()).or_default() += 1;
        }
        let mut seen = std::collections::HashSet::new();
        users
            .iter()
            .filter(|u| seen.insert(u.as_str()))
            .map(|user| {
                let result =
                    DescribeUserScramCredentialsResult::default().with_user(str_bytes(user.clone()));
                if counts.get(user.as_str()).copied().unwrap_or(0) > 1 {
                    return result
                        .with_error_code(ErrorCode::DuplicateResource.code())
                        .with_error_message(Some(str_bytes(format!(
                            "cannot describe SCRAM credentials for the same user twice in one request: {user}"
                        ))));
                }
                match all.get(user) {
                    Some(creds) => result.with_credential_infos(info(creds)),
                    None => result
                        .with_error_code(ErrorCode::ResourceNotFound.code())
                        .with_error_message(Some(str_bytes(format!(
                            "attempt to describe a user credential that does not exist: {user}"
                        )))),
                }
            })
            .collect()
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}
