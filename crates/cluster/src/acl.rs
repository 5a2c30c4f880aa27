//! ACL bindings and filters with Kafka's semantics (`ResourcePatternFilter` and
//! `AccessControlEntryFilter`): what CreateAcls accepts, what a DescribeAcls or DeleteAcls
//! filter matches. Bindings are stored in the metadata log.
//!
//! Scope: the bindings are stored, listed and deleted exactly as Kafka's StandardAuthorizer
//! does, but not enforced yet. Every connection is PLAINTEXT and so `User:ANONYMOUS`, which this
//! broker treats as a super user (as a Kafka cluster configured with
//! `super.users=User:ANONYMOUS` would); enforcement arrives with authentication.

use crate::records::AclBinding;

pub const RESOURCE_UNKNOWN: i8 = 0;
pub const RESOURCE_ANY: i8 = 1;
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_GROUP: i8 = 3;
pub const RESOURCE_CLUSTER: i8 = 4;
pub const RESOURCE_USER: i8 = 7;

pub const PATTERN_UNKNOWN: i8 = 0;
pub const PATTERN_ANY: i8 = 1;
pub const PATTERN_MATCH: i8 = 2;
pub const PATTERN_LITERAL: i8 = 3;
pub const PATTERN_PREFIXED: i8 = 4;

pub const OPERATION_UNKNOWN: i8 = 0;
pub const OPERATION_ANY: i8 = 1;
pub const OPERATION_MAX: i8 = 14; // DESCRIBE_TOKENS

pub const PERMISSION_UNKNOWN: i8 = 0;
pub const PERMISSION_ANY: i8 = 1;
pub const PERMISSION_DENY: i8 = 2;
pub const PERMISSION_ALLOW: i8 = 3;

const RESOURCE_MAX: i8 = 7; // USER
const WILDCARD: &str = "*";
const CLUSTER_NAME: &str = "kafka-cluster";

/// A DescribeAcls/DeleteAcls filter. `None` fields match anything.
#[derive(Debug, Clone)]
pub struct AclFilter {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission_type: i8,
}

/// Why a binding cannot be created (Kafka answers INVALID_REQUEST with this message).
pub fn validate_binding(b: &AclBinding) -> Result<(), String> {
    if !(RESOURCE_TOPIC..=RESOURCE_MAX).contains(&b.resource_type) {
        return Err(format!("invalid resource type {}", b.resource_type));
    }
    if !matches!(b.pattern_type, PATTERN_LITERAL | PATTERN_PREFIXED) {
        return Err(format!(
            "invalid pattern type {}: only LITERAL (3) and PREFIXED (4) can be created",
            b.pattern_type
        ));
    }
    if b.resource_name.is_empty() {
        return Err("resource name must not be empty".into());
    }
    if b.resource_type == RESOURCE_CLUSTER
        && (b.resource_name != CLUSTER_NAME || b.pattern_type != PATTERN_LITERAL)
    {
        return Err(format!(
            "the cluster resource is the literal name '{CLUSTER_NAME}'"
        ));
    }
    if !(2..=OPERATION_MAX).contains(&b.operation) {
        return Err(format!("invalid operation {}", b.operation));
    }
    if !matches!(b.permission_type, PERMISSION_DENY | PERMISSION_ALLOW) {
        return Err(format!("invalid permission type {}", b.permission_type));
    }
    match b.principal.split_once(':') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
        _ => {
            return Err(format!(
                "principal '{}' is not of the form Type:name (e.g. User:alice)",
                b.principal
            ))
        }
    }
    if b.host.is_empty() {
        return Err("host must not be empty (use * for any host)".into());
    }
    Ok(())
}

impl AclFilter {
    /// Why this filter is unusable (UNKNOWN codes, out-of-range values).
    pub fn validate(&self) -> Result<(), String> {
        if !(RESOURCE_ANY..=RESOURCE_MAX).contains(&self.resource_type) {
            return Err(format!(
                "invalid resource type filter {}",
                self.resource_type
            ));
        }
        if !(PATTERN_ANY..=PATTERN_PREFIXED).contains(&self.pattern_type) {
            return Err(format!("invalid pattern type filter {}", self.pattern_type));
        }
        if !(OPERATION_ANY..=OPERATION_MAX).contains(&self.operation) {
            return Err(format!("invalid operation filter {}", self.operation));
        }
        if !(PERMISSION_ANY..=PERMISSION_ALLOW).contains(&self.permission_type) {
            return Err(format!(
                "invalid permission type filter {}",
                self.permission_type
            ));
        }
        Ok(())
    }

    pub fn matches(&self, b: &AclBinding) -> bool {
        self.matches_pattern(b) && self.matches_entry(b)
    }

    fn matches_pattern(&self, b: &AclBinding) -> bool {
        if self.resource_type != RESOURCE_ANY && self.resource_type != b.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PATTERN_ANY | PATTERN_MATCH)
            && self.pattern_type != b.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if self.pattern_type == PATTERN_ANY || self.pattern_type == b.pattern_type {
            return *name == b.resource_name;
        }
        // MATCH: every stored pattern that would apply to this literal name.
        match b.pattern_type {
            PATTERN_LITERAL => *name == b.resource_name || b.resource_name == WILDCARD,
            PATTERN_PREFIXED => name.starts_with(&b.resource_name),
            _ => false,
        }
    }

    fn matches_entry(&self, b: &AclBinding) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == b.principal)
            && self.host.as_ref().is_none_or(|h| *h == b.host)
            && (self.operation == OPERATION_ANY || self.operation == b.operation)
            && (self.permission_type == PERMISSION_ANY || self.permission_type == b.permission_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(rt: i8, name: &str, pt: i8, op: i8) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: "User:a".into(),
            host: "*".into(),
            operation: op,
            permission_type: PERMISSION_ALLOW,
        }
    }

    fn filter(rt: i8, name: Option<&str>, pt: i8) -> AclFilter {
        AclFilter {
            resource_type: rt,
            resource_name: name.map(String::from),
            pattern_type: pt,
            principal: None,
            host: None,
            operation: OPERATION_ANY,
            permission_type: PERMISSION_ANY,
        }
    }

    #[test]
    fn match_filter_finds_literal_wildcard_and_prefixed_patterns() {
        let lit = binding(RESOURCE_TOPIC, "orders", PATTERN_LITERAL, 3);
        let wild = binding(RESOURCE_TOPIC, "*", PATTERN_LITERAL, 3);
        let pre = binding(RESOURCE_TOPIC, "ord", PATTERN_PREFIXED, 3);
        let other = binding(RESOURCE_TOPIC, "x", PATTERN_PREFIXED, 3);
        let f = filter(RESOURCE_TOPIC, Some("orders"), PATTERN_MATCH);
        assert!(f.matches(&lit) && f.matches(&wild) && f.matches(&pre));
        assert!(!f.matches(&other));
        // ANY with a name: exact names only, of any pattern type.
        let f = filter(RESOURCE_ANY, Some("ord"), PATTERN_ANY);
        assert!(f.matches(&pre) && !f.matches(&lit) && !f.matches(&wild));
        // A specific pattern type: that type and that exact name.
        let f = filter(RESOURCE_TOPIC, Some("orders"), PATTERN_LITERAL);
        assert!(f.matches(&lit) && !f.matches(&wild) && !f.matches(&pre));
        // No name: everything of that type.
        let f = filter(RESOURCE_GROUP, None, PATTERN_ANY);
        assert!(!f.matches(&lit));
    }

    #[test]
    fn entry_fields_filter_exactly() {
        let b = binding(RESOURCE_TOPIC, "t", PATTERN_LITERAL, 4);
        let mut f = filter(RESOURCE_ANY, None, PATTERN_ANY);
        f.operation = 3;
        assert!(!f.matches(&b));
        f.operation = 4;
        f.principal = Some("User:b".into());
        assert!(!f.matches(&b));
        f.principal = Some("User:a".into());
        f.permission_type = PERMISSION_DENY;
        assert!(!f.matches(&b));
        f.permission_type = PERMISSION_ALLOW;
        assert!(f.matches(&b));
    }

    #[test]
    fn creations_are_validated_as_kafka_does() {
        assert!(validate_binding(&binding(RESOURCE_TOPIC, "t", PATTERN_LITERAL, 3)).is_ok());
        assert!(validate_binding(&binding(RESOURCE_ANY, "t", PATTERN_LITERAL, 3)).is_err());
        assert!(validate_binding(&binding(RESOURCE_TOPIC, "t", PATTERN_MATCH, 3)).is_err());
        assert!(validate_binding(&binding(RESOURCE_TOPIC, "t", PATTERN_LITERAL, 1)).is_err());
        assert!(validate_binding(&binding(RESOURCE_CLUSTER, "x", PATTERN_LITERAL, 7)).is_err());
        let mut b = binding(RESOURCE_TOPIC, "t", PATTERN_LITERAL, 3);
        b.principal = "alice".into();
        assert!(validate_binding(&b).is_err());
        assert!(filter(RESOURCE_UNKNOWN, None, PATTERN_ANY)
            .validate()
            .is_err());
        assert!(filter(RESOURCE_TOPIC, None, PATTERN_UNKNOWN)
            .validate()
            .is_err());
    }
}
