//! Typed settings, layered: built-in defaults → `RINGFENCE__SECTION__KEY` environment
//! variables → command-line flags. Secrets are typed so they never print.

use secrecy::{ExposeSecret, SecretString};

/// The development key secret used when none is configured. Keys made with it are not
/// private: anyone can recompute them. `ringfence` warns whenever it is used.
pub const DEV_KEY_SECRET: &str = "ringfence-development-secret-do-not-use-in-production";

/// Environment variable holding the deployment's key secret.
pub const KEY_SECRET_ENV: &str = "RINGFENCE__GRAPH__KEY_SECRET";

/// Graph settings.
#[derive(Debug)]
pub struct GraphSettings {
    /// Secret the property keys are keyed with.
    pub key_secret: SecretString,
    /// Whether `key_secret` is the development default.
    pub key_secret_is_default: bool,
    /// Region for phone numbers written without a country code.
    pub default_region: String,
}

impl GraphSettings {
    /// Loads graph settings: `RINGFENCE__GRAPH__KEY_SECRET`, `RINGFENCE__GRAPH__DEFAULT_REGION`,
    /// then `key_secret_file` (a flag) overrides the environment.
    ///
    /// # Errors
    /// Unreadable or too short secret file, invalid region.
    pub fn load(
        key_secret_file: Option<&std::path::Path>,
        region: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut secret = std::env::var(KEY_SECRET_ENV).ok().filter(|s| !s.is_empty());
        if let Some(path) = key_secret_file {
            let s = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read key secret file {}: {e}", path.display())
            })?;
            secret = Some(s.trim().to_owned());
        }
        if let Some(s) = &secret {
            anyhow::ensure!(
                s.len() >= 16,
                "the key secret must be at least 16 bytes long"
            );
        }
        let region = region
            .map(str::to_owned)
            .or_else(|| std::env::var("RINGFENCE__GRAPH__DEFAULT_REGION").ok())
            .unwrap_or_else(|| "US".to_owned())
            .to_ascii_uppercase();
        anyhow::ensure!(
            region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()),
            "default region must be an ISO 3166-1 alpha-2 code such as US or GB, not {region:?}"
        );
        Ok(GraphSettings {
            key_secret_is_default: secret.is_none(),
            key_secret: SecretString::from(secret.unwrap_or_else(|| DEV_KEY_SECRET.to_owned())),
            default_region: region,
        })
    }

    /// The keyer for this deployment.
    pub fn keyer(&self) -> graph_core::Keyer {
        graph_core::Keyer::new(self.key_secret.expose_secret().as_bytes())
    }
}

/// A database URL as given (`--db` or `RINGFENCE__STORE__URL`): a SQLite file path,
/// `sqlite://PATH`, or `postgres://USER:PASSWORD@HOST/DB`. It prints (`Debug`, `Display`) with
/// its password replaced by `***`; [`DbUrl::expose`] gives the real one to the store.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    /// The URL, password included: for opening the store only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DbUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DbUrl(s.to_owned()))
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::store::redact_url(&self.0))
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbUrl({self})")
    }
}
