//! Every variable Compose and the Kubernetes Deployment give fileproc is one its config reads
//! (the loader ignores names it does not know, so each is looked up in `ENV_NAMES` and, for
//! `FILEPROC_*`, among the keys of `configs/config.yaml`), and loading the real config with
//! exactly those variables succeeds with the values where they belong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use fileproc::config::{CONFIG_PATH_VAR, ENV_PREFIX, Settings, key_for};
use secrecy::ExposeSecret;

use crate::files::{self, compose_env, compose_service, k8s_container, k8s_docs, k8s_env};

/// Why `name` would be ignored by the config, or `Ok` when it is read.
pub fn accepted(name: &str) -> Result<(), String> {
    if name == CONFIG_PATH_VAR {
        return Ok(());
    }
    let (key, _) =
        key_for(name).ok_or_else(|| format!("{name} is not a variable the config reads"))?;
    if name.starts_with(ENV_PREFIX) {
        let defaults = files::yaml("configs/config.yaml");
        let known = key.starts_with("storage.encryption.keys.")
            || key
                .split('.')
                .try_fold(&defaults, |node, part| node.get(part))
                .is_some();
        if !known {
            return Err(format!(
                "{name} sets {key}, which is not a key of configs/config.yaml"
            ));
        }
    }
    Ok(())
}

/// The settings, and the layered sources, from `yaml` and exactly the variables `env` (without
/// `CONFIG_PATH`, which the caller resolved into `yaml`). Asserts that every variable's value is
/// what the config holds for its key (the one with the highest precedence, when two set a key).
pub fn load(yaml: &Path, env: &[(String, String)]) -> (Settings, Figment) {
    for (name, _) in env {
        if let Err(e) = accepted(name) {
            panic!("{e}");
        }
    }
    let figment = Settings::figment(Some(yaml), env.to_vec()).expect("the config's sources");
    let settings = Settings::from_figment(&figment)
        .unwrap_or_else(|e| panic!("the config loads with these variables: {e}"));
    let mut winners: BTreeMap<String, (usize, &str, &str)> = BTreeMap::new();
    for (name, value) in env.iter().filter(|(_, v)| !v.trim().is_empty()) {
        let Some((key, rank)) = key_for(name) else {
            continue;
        };
        if winners.get(&key).is_none_or(|(r, _, _)| *r <= rank) {
            winners.insert(key, (rank, name, value));
        }
    }
    for (key, (_, name, value)) in &winners {
        let metadata = figment
            .find_metadata(key)
            .unwrap_or_else(|| panic!("{name}: no value at {key}"));
        assert_eq!(metadata.name, "environment variable", "{name} sets {key}");
        let found = match figment.find_value(key).expect("a value at the key") {
            figment::value::Value::String(_, s) => s,
            figment::value::Value::Bool(_, b) => b.to_string(),
            figment::value::Value::Num(_, n) => format!("{}", n.to_u128().unwrap_or_default()),
            other => panic!("{name}: {key} holds {other:?}"),
        };
        assert_eq!(&found, value, "{name} lands in {key}");
    }
    (settings, figment)
}

/// The fileproc service's environment in docker-compose.yml.
pub fn compose_fileproc_env() -> Vec<(String, String)> {
    compose_env(compose_service(
        &files::yaml("docker-compose.yml"),
        "fileproc",
    ))
}

/// Settings as the Compose fileproc container loads them: the image's configs/config.yaml
/// (CONFIG_PATH unset, the default path) and the service's environment.
pub fn compose_settings() -> Settings {
    let env = compose_fileproc_env();
    assert!(
        env.iter().all(|(k, _)| k != CONFIG_PATH_VAR),
        "Compose uses the image's configs/config.yaml"
    );
    load(&files::root().join("configs/config.yaml"), &env).0
}

/// The Deployment's ConfigMap config.yaml written out, and the container's other variables.
pub struct K8sConfig {
    _dir: tempfile::TempDir,
    pub yaml: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The file CONFIG_PATH names inside the pod (a ConfigMap volume's key) written to a temporary
/// directory, and the container's variables but CONFIG_PATH.
pub fn k8s_config() -> K8sConfig {
    let docs = k8s_docs();
    let mut env = k8s_env(&docs);
    let config_path = env
        .iter()
        .rev()
        .find(|(k, _)| k == CONFIG_PATH_VAR)
        .map(|(_, v)| v.clone())
        .expect("the Deployment sets CONFIG_PATH");
    env.retain(|(k, _)| k != CONFIG_PATH_VAR);
    let container = k8s_container(&docs);
    let pod = &files::k8s_find(&docs, "Deployment", "fileproc")["spec"]["template"]["spec"];
    // The volume mounted at CONFIG_PATH's directory, and the ConfigMap behind it.
    let (dir, file) = config_path
        .rsplit_once('/')
        .expect("CONFIG_PATH is an absolute path");
    let mount = container["volumeMounts"]
        .as_sequence()
        .and_then(|m| m.iter().find(|m| m["mountPath"].as_str() == Some(dir)))
        .unwrap_or_else(|| panic!("a volume is mounted at {dir}"));
    let volume_name = files::str_at(mount, "name", "volumeMount");
    let volume = pod["volumes"]
        .as_sequence()
        .and_then(|v| v.iter().find(|v| v["name"].as_str() == Some(volume_name)))
        .expect("the mounted volume is declared");
    let map_name = files::str_at(&volume["configMap"], "name", "config volume");
    let map = files::k8s_find(&docs, "ConfigMap", map_name);
    let text = files::str_at(&map["data"], file, "the config ConfigMap");
    let tmp = tempfile::tempdir().expect("temporary directory");
    let yaml = tmp.path().join(file);
    std::fs::write(&yaml, text).expect("writing the ConfigMap's config");
    K8sConfig {
        _dir: tmp,
        yaml,
        env,
    }
}

/// Settings as the Kubernetes pod loads them.
pub fn k8s_settings() -> Settings {
    let config = k8s_config();
    load(&config.yaml, &config.env).0
}

#[test]
fn compose_gives_fileproc_only_variables_its_config_reads_and_they_land() {
    let env = compose_fileproc_env();
    assert!(env.len() >= 10, "Compose configures fileproc: {env:?}");
    let settings = compose_settings();
    let database = settings.database.url.as_ref().expect("DATABASE_URL landed");
    assert_eq!(
        database.expose_secret(),
        "postgres://fileproc:fileproc-example-password@postgres:5432/fileproc"
    );
    assert_eq!(
        settings.database.connection_url().driver().as_str(),
        "postgres"
    );
    let redis = settings.redis.url.as_ref().expect("REDIS_URL landed");
    assert_eq!(redis.expose_secret(), "redis://redis:6379/0");
    assert_eq!(settings.storage.provider.as_str(), "minio");
    assert_eq!(settings.storage.bucket.as_deref(), Some("fileproc"));
    assert_eq!(
        settings.storage.endpoint_url().as_deref(),
        Some("http://minio:9000")
    );
    assert!(settings.storage.allow_http());
    assert_eq!(settings.storage.access_key_id.as_deref(), Some("fileproc"));
    assert_eq!(settings.processing.worker_count, 4);
    assert!(!settings.security.virus_scanning);
    assert_eq!(settings.security.clamav_host, "clamav");
    assert_eq!(settings.security.clamav_port, 3310);
    assert_eq!(settings.monitoring.log_format.as_str(), "json");
    assert!(!settings.monitoring.tracing_enabled);
}

#[test]
fn the_deployment_gives_fileproc_only_variables_its_config_reads_and_they_land() {
    let config = k8s_config();
    let names: Vec<&str> = config.env.iter().map(|(k, _)| k.as_str()).collect();
    for secret in ["DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY"] {
        assert!(names.contains(&secret), "the Deployment sets {secret}");
    }
    let (settings, _) = load(&config.yaml, &config.env);
    let database = settings.database.url.as_ref().expect("DATABASE_URL landed");
    assert!(
        database
            .expose_secret()
            .starts_with("postgres://fileproc:CHANGE-ME-example-password@postgres."),
        "the Secret's DATABASE_URL"
    );
    assert_eq!(
        settings.database.connection_url().driver().as_str(),
        "postgres"
    );
    assert!(settings.redis.url.is_some(), "REDIS_URL landed");
    assert_eq!(settings.storage.provider.as_str(), "s3");
    assert_eq!(settings.storage.bucket.as_deref(), Some("fileproc"));
    assert_eq!(
        settings.storage.endpoint_url().as_deref(),
        Some("http://minio.fileproc.svc.cluster.local:9000")
    );
    assert_eq!(
        settings.storage.access_key_id.as_deref(),
        Some("CHANGE-ME-example-access-key")
    );
    assert_eq!(settings.processing.worker_count, 4);
    assert_eq!(settings.monitoring.log_format.as_str(), "json");
}

#[test]
fn names_the_config_ignores_are_told_apart_from_those_it_reads() {
    assert_eq!(accepted("S3_BUCKET"), Ok(()));
    assert_eq!(accepted("CONFIG_PATH"), Ok(()));
    assert_eq!(accepted("FILEPROC_WEBSOCKET__PING_PERIOD"), Ok(()));
    assert_eq!(accepted("FILEPROC_STORAGE__ENCRYPTION__KEYS__V2"), Ok(()));
    assert_eq!(
        accepted("S3_BUKET"),
        Err("S3_BUKET is not a variable the config reads".to_owned())
    );
    assert_eq!(
        accepted("FILEPROC_SERVER__PROT"),
        Err(
            "FILEPROC_SERVER__PROT sets server.prot, which is not a key of configs/config.yaml"
                .to_owned()
        )
    );
}

#[test]
fn compose_substitutions_take_their_default() {
    assert_eq!(
        files::compose_interpolate("${LOG_LEVEL:-info}"),
        Ok("info".into())
    );
    assert_eq!(files::compose_interpolate("a$$b${X-1}"), Ok("a$b1".into()));
    assert!(files::compose_interpolate("${DATABASE_URL}").is_err());
}
