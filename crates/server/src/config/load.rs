//! Loading: defaults, then the YAML file, then the environment; then validation.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Yaml};

use super::env::{CONFIG_PATH_VAR, EnvProvider};
use super::{ConfigError, Settings};

/// The YAML file read when `CONFIG_PATH` is not set, relative to the working directory; it is fine
/// for it to be missing.
pub const DEFAULT_CONFIG_PATH: &str = "configs/config.yaml";

impl Settings {
    /// Settings for this process: defaults, then the file `CONFIG_PATH` names (an error if it is
    /// missing) or else `configs/config.yaml` if it exists, then the environment. Validated.
    pub fn load() -> Result<Settings, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let explicit = vars
            .iter()
            .find(|(k, v)| k == CONFIG_PATH_VAR && !v.trim().is_empty())
            .map(|(_, v)| PathBuf::from(v.trim()));
        let path = explicit.or_else(|| {
            let default = PathBuf::from(DEFAULT_CONFIG_PATH);
            default.is_file().then_some(default)
        });
        Settings::from_sources(path.as_deref(), vars)
    }

    /// Settings from defaults, the YAML file at `yaml_path` if given (it must exist), and the given
    /// environment variables, which need not be the process's. Validated.
    pub fn from_sources(
        yaml_path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        Settings::from_figment(&Settings::figment(yaml_path, env)?)
    }

    /// The layered sources, before extraction: for tests and for inspecting where a value came
    /// from. Defaults are not in it; they are filled in by extraction.
    pub fn figment(
        yaml_path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Figment, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = yaml_path {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    reason: "no such file (set by CONFIG_PATH or the caller)".into(),
                });
            }
            // A file of comments only is an empty YAML document, which is not a map: skip it.
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            let has_content = text.lines().any(|l| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#') && l != "---"
            });
            if has_content {
                figment = figment.merge(Yaml::file_exact(path));
            }
        }
        Ok(figment.merge(EnvProvider::new(env)))
    }

    /// Extracts and validates the settings from `figment`; a key it lacks keeps its default.
    pub fn from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::from_figment(e, figment))?;
        settings.normalize();
        settings.check(Some(figment))?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work (no workers, an S3 provider without a bucket...).
    /// `load` and `from_sources` call it; the error names the key, the value and what was expected.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check(None)
    }
}
