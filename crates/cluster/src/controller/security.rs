//! ACL and SCRAM credential decisions (Kafka's `AclControlManager` and
//! `ScramControlManager`).

use strom_codec::ErrorCode;

use super::{ApiError, Outcome, Scratch};
use crate::acl::{validate_binding, AclFilter};
use crate::records::{AclBinding, MetadataRecord, ScramCredential};

/// `ScramMechanism` codes: SCRAM-SHA-256 and SCRAM-SHA-512.
const MECHANISMS: [i8; 2] = [1, 2];
/// Kafka's bounds on a credential's iterations.
pub const SCRAM_ITERATIONS_MIN: i32 = 4096;
pub const SCRAM_ITERATIONS_MAX: i32 = 16384;

/// One user's changes in an AlterUserScramCredentials request: per mechanism, a credential
/// to store or `None` to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramChange {
    pub user: String,
    pub changes: Vec<(i8, Option<ScramCredential>)>,
}

pub(super) fn create_acls(scratch: &mut Scratch, bindings: Vec<AclBinding>) -> Vec<Outcome<()>> {
    bindings
        .into_iter()
        .map(|b| {
            validate_binding(&b).map_err(|m| ApiError::new(ErrorCode::InvalidRequest, m))?;
            if !scratch.image.acls.contains(&b) {
                tracing::info!(acl = ?b, "created ACL");
                scratch.push(vec![MetadataRecord::Acl(b)]);
            }
            Ok(())
        })
        .collect()
}

pub(super) fn delete_acls(
    scratch: &mut Scratch,
    filters: &[AclFilter],
) -> Vec<Outcome<Vec<AclBinding>>> {
    // Every filter matches against the bindings as they were before the request, as Kafka
    // reports a binding under each filter that matches it.
    let before = scratch.image.acls.clone();
    filters
        .iter()
        .map(|f| {
            f.validate()
                .map_err(|m| ApiError::new(ErrorCode::InvalidRequest, m))?;
            let hits: Vec<AclBinding> = before.iter().filter(|b| f.matches(b)).cloned().collect();
            let removed = hits
                .iter()
                .filter(|b| scratch.image.acls.contains(*b))
                .cloned()
                .map(|b| {
                    tracing::info!(acl = ?b, "deleted ACL");
                    MetadataRecord::RemoveAcl(b)
                })
                .collect();
            scratch.push(removed);
            Ok(hits)
        })
        .collect()
}

pub(super) fn alter_scram(scratch: &mut Scratch, users: Vec<ScramChange>) -> Vec<Outcome<()>> {
    users
        .into_iter()
        .map(|u| {
            check_scram(scratch, &u)?;
            let records = u
                .changes
                .into_iter()
                .map(|(mechanism, credential)| match credential {
                    Some(credential) => MetadataRecord::UserScramCredential {
                        user: u.user.clone(),
                        mechanism,
                        credential,
                    },
                    None => MetadataRecord::RemoveUserScramCredential {
                        user: u.user.clone(),
                        mechanism,
                    },
                })
                .collect();
            scratch.push(records);
            Ok(())
        })
        .collect()
}

fn check_scram(scratch: &Scratch, u: &ScramChange) -> Outcome<()> {
    let user = &u.user;
    if user.is_empty() {
        return Err(ApiError::new(
            ErrorCode::UnacceptableCredential,
            "username must not be empty",
        ));
    }
    if u.changes.len() > 1 {
        return Err(ApiError::new(
            ErrorCode::DuplicateResource,
            format!("a user credential cannot be altered twice in the same request: {user}"),
        ));
    }
    for (mechanism, credential) in &u.changes {
        if !MECHANISMS.contains(mechanism) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedSaslMechanism,
                format!(
                    "unknown SCRAM mechanism {mechanism} (1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512)"
                ),
            ));
        }
        match credential {
            None => {
                let exists = scratch
                    .image
                    .scram
                    .get(user)
                    .is_some_and(|m| m.contains_key(mechanism));
                if !exists {
                    return Err(ApiError::new(
                        ErrorCode::ResourceNotFound,
                        format!("attempt to delete a user credential that does not exist: {user}"),
                    ));
                }
            }
            Some(c) => {
                if c.iterations < SCRAM_ITERATIONS_MIN {
                    return Err(ApiError::new(
                        ErrorCode::UnacceptableCredential,
                        format!("too few iterations: at least {SCRAM_ITERATIONS_MIN}"),
                    ));
                }
                if c.iterations > SCRAM_ITERATIONS_MAX {
                    return Err(ApiError::new(
                        ErrorCode::UnacceptableCredential,
                        format!("too many iterations: at most {SCRAM_ITERATIONS_MAX}"),
                    ));
                }
                if c.salt.is_empty() || c.salted_password.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::UnacceptableCredential,
                        "salt and salted password must not be empty",
                    ));
                }
            }
        }
    }
    Ok(())
}
