//! Bearer tokens with roles (viewer < trader < risk_officer < admin), optionally scoped to accounts. Tokens are
//! configured as SHA-256 hashes (`[[tokens]] sha256 = …`; a plain `token` is accepted for demos), compared in
//! constant time against every configured hash, and never logged: a principal is known by its configured name,
//! which is what the journal records as the actor of a control action.
//!
//! With `[auth] required = false` (the embedded demo), order entry and reads work without a token; the control
//! plane (kill switch, reset) always needs one. With `required = true` every API call needs a token.

use crate::http::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use bulwark_model::{AccountId, LEVEL_ADMIN, LEVEL_RISK_OFFICER, LEVEL_TRADER, LEVEL_VIEWER};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's configured name: the actor in the journal.
    pub name: Arc<str>,
    pub level: u8,
    /// `None`: every account.
    pub accounts: Option<Arc<[AccountId]>>,
}

impl Principal {
    pub fn may_use(&self, account: AccountId) -> bool {
        self.accounts.as_ref().is_none_or(|a| a.contains(&account))
    }
}

pub fn role_name(level: u8) -> &'static str {
    match level {
        LEVEL_VIEWER => "viewer",
        LEVEL_TRADER => "trader",
        LEVEL_RISK_OFFICER => "risk_officer",
        LEVEL_ADMIN => "admin",
        _ => "system",
    }
}

pub fn role_level(name: &str) -> Option<u8> {
    match name {
        "viewer" => Some(LEVEL_VIEWER),
        "trader" => Some(LEVEL_TRADER),
        "risk_officer" => Some(LEVEL_RISK_OFFICER),
        "admin" => Some(LEVEL_ADMIN),
        _ => None,
    }
}

#[derive(Debug, Default)]
pub struct Authenticator {
    tokens: Vec<([u8; 32], Principal)>,
    required: bool,
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The item whose hash is the SHA-256 of `secret`. Every hash is compared, in constant time, so the answer
/// time says nothing about how close a guess was.
pub fn find_by_hash<'a, T>(
    items: impl IntoIterator<Item = (&'a [u8; 32], &'a T)>,
    secret: &str,
) -> Option<&'a T> {
    let presented = sha256(secret.as_bytes());
    let mut found = None;
    for (hash, item) in items {
        if bool::from(hash.ct_eq(&presented)) {
            found = Some(item);
        }
    }
    found
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
}

impl Authenticator {
    /// `tokens`: (SHA-256 of the token, principal).
    pub fn new(tokens: Vec<([u8; 32], Principal)>, required: bool) -> Authenticator {
        Authenticator { tokens, required }
    }

    pub fn from_config(
        config: &crate::config::Config,
        catalog: &crate::catalog::Catalog,
    ) -> Authenticator {
        let tokens = config
            .tokens
            .iter()
            .map(|t| {
                let hash = match (&t.token, &t.sha256) {
                    (Some(plain), _) => sha256(plain.as_bytes()),
                    (None, Some(h)) => crate::config::hex32(h),
                    (None, None) => [0; 32],
                };
                let accounts = t.accounts.as_ref().map(|names| {
                    names
                        .iter()
                        .filter_map(|n| catalog.account(n))
                        .collect::<Vec<_>>()
                        .into()
                });
                (
                    hash,
                    Principal {
                        name: t.name.as_str().into(),
                        level: role_level(&t.role).unwrap_or(LEVEL_VIEWER),
                        accounts,
                    },
                )
            })
            .collect();
        Authenticator::new(tokens, config.auth.required)
    }

    /// The principal of the request's `Authorization: Bearer …` header; `Ok(None)` without the header.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        find_by_hash(self.tokens.iter().map(|(h, p)| (h, p)), token)
            .cloned()
            .map(Some)
            .ok_or_else(|| unauthenticated("unknown token"))
    }

    /// Checks that the request may act at `level` (on `account`, when it names one). Without a token, order
    /// entry and reads pass only when authentication is not required; the control plane never passes.
    pub fn require(
        &self,
        headers: &HeaderMap,
        level: u8,
        account: Option<AccountId>,
        what: &str,
    ) -> Result<Option<Principal>, ApiError> {
        let Some(p) = self.identify(headers)? else {
            if !self.required && level <= LEVEL_TRADER {
                return Ok(None);
            }
            return Err(unauthenticated(&format!(
                "{what} needs a bearer token (role {} or above)",
                role_name(level)
            )));
        };
        if p.level < level {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN_ROLE",
                format!(
                    "{what} needs role {} or above; `{}` is {}",
                    role_name(level),
                    p.name,
                    role_name(p.level)
                ),
            ));
        }
        if let Some(a) = account {
            if !p.may_use(a) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN_ACCOUNT",
                    format!("`{}` is not allowed to act on this account", p.name),
                ));
            }
        }
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(required: bool) -> Authenticator {
        Authenticator::new(
            vec![
                (
                    sha256(b"tok-trader"),
                    Principal {
                        name: "t".into(),
                        level: LEVEL_TRADER,
                        accounts: Some(vec![AccountId(0)].into()),
                    },
                ),
                (
                    sha256(b"tok-risk"),
                    Principal {
                        name: "r".into(),
                        level: LEVEL_RISK_OFFICER,
                        accounts: None,
                    },
                ),
            ],
            required,
        )
    }

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, t.parse().unwrap());
        h
    }

    fn code(r: Result<Option<Principal>, ApiError>) -> String {
        match r {
            Ok(Some(p)) => format!("ok:{}", p.name),
            Ok(None) => "open".into(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn roles_scopes_and_missing_tokens() {
        let a = auth(false);
        let none = HeaderMap::new();
        assert_eq!(code(a.require(&none, LEVEL_TRADER, None, "x")), "open");
        assert!(code(a.require(&none, LEVEL_RISK_OFFICER, None, "x")).contains("UNAUTHENTICATED"));
        assert!(
            code(a.require(&bearer("Basic abc"), LEVEL_VIEWER, None, "x"))
                .contains("UNAUTHENTICATED")
        );
        assert!(
            code(a.require(&bearer("Bearer nope"), LEVEL_VIEWER, None, "x"))
                .contains("unknown token")
        );
        assert!(
            code(a.require(&bearer("Bearer tok-trader"), LEVEL_RISK_OFFICER, None, "x"))
                .contains("FORBIDDEN_ROLE")
        );
        assert!(code(a.require(
            &bearer("Bearer tok-trader"),
            LEVEL_TRADER,
            Some(AccountId(1)),
            "x"
        ))
        .contains("FORBIDDEN_ACCOUNT"));
        assert_eq!(
            code(a.require(
                &bearer("Bearer tok-trader"),
                LEVEL_TRADER,
                Some(AccountId(0)),
                "x"
            )),
            "ok:t"
        );
        assert_eq!(
            code(a.require(
                &bearer("Bearer tok-risk"),
                LEVEL_TRADER,
                Some(AccountId(1)),
                "x"
            )),
            "ok:r"
        );
        let strict = auth(true);
        assert!(code(strict.require(&none, LEVEL_VIEWER, None, "x")).contains("UNAUTHENTICATED"));
    }
}
