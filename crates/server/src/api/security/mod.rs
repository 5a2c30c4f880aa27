//! ACLs (KIP-140) and SCRAM credentials (KIP-554), kept in the metadata log.

pub mod alter_user_scram_credentials;
pub mod create_acls;
pub mod delete_acls;
pub mod describe_acls;
pub mod describe_user_scram_credentials;
