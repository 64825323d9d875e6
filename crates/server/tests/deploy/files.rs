//! Reading the repository's deployment files: paths from the workspace root, YAML documents,
//! the Dockerfile's instructions, the Makefile's recipes, and the environment each deployment
//! (Compose, Kubernetes) gives the fileproc container.

use std::path::PathBuf;

use serde_yaml::Value;

/// The workspace root (where `Dockerfile` and `configs/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of `rel` (a path from the workspace root).
pub fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every YAML document of `rel`, in order.
pub fn yaml_docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .filter(|doc: &Value| !doc.is_null())
        .collect()
}

/// The one YAML document of `rel`.
pub fn yaml(rel: &str) -> Value {
    let mut docs = yaml_docs(rel);
    assert_eq!(docs.len(), 1, "{rel} holds one YAML document");
    docs.remove(0)
}

/// A scalar as the text a container would see in its environment.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// `value[key]` as a string, panicking with `what` when it is missing.
pub fn str_at<'a>(value: &'a Value, key: &str, what: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no string at {key}"))
}

/// One Dockerfile instruction: `RUN`, `COPY`... and its arguments, continuation lines joined.
#[derive(Debug)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// The Dockerfile's instructions, comments dropped and `\` continuations joined.
pub fn dockerfile() -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim());
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let text = std::mem::take(&mut current);
                let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_owned(),
                });
            }
        }
    }
    out
}

/// The recipe lines of Makefile target `target`, without their tab.
pub fn make_recipe(target: &str) -> Vec<String> {
    let text = read("Makefile");
    let header = format!("{target}:");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&header)).skip(1);
    let mut recipe = Vec::new();
    for line in lines.by_ref() {
        match line.strip_prefix('\t') {
            Some(command) => recipe.push(command.trim().to_owned()),
            None => break,
        }
    }
    assert!(!recipe.is_empty(), "the Makefile has a `{target}` target");
    recipe
}

/// Compose's variable substitution for a value that should stand without the caller's
/// environment: `${NAME:-default}` and `${NAME-default}` become the default, `$$` is `$`; a
/// `${NAME}` with no default is an error (the value would depend on the shell).
pub fn compose_interpolate(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {raw}"))?;
            let inner = &body[..end];
            let default = inner
                .split_once(":-")
                .or_else(|| inner.split_once('-'))
                .map(|(_, d)| d)
                .ok_or_else(|| format!("{raw}: ${{{inner}}} has no default"))?;
            out.push_str(default);
            rest = &body[end + 1..];
        } else {
            return Err(format!("{raw}: a bare $ (write $$ or ${{NAME:-default}})"));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The Compose file's service `name`.
pub fn compose_service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let service = &compose["services"][name];
    assert!(
        service.is_mapping(),
        "docker-compose.yml has service {name}"
    );
    service
}

/// A Compose service's `environment` (map or `NAME=value` list), substitutions resolved.
pub fn compose_env(service: &Value) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    scalar(k),
                    if v.is_null() {
                        String::new()
                    } else {
                        scalar(v)
                    },
                )
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .map(|item| {
                let item = scalar(item);
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        other => panic!("environment is a map or a list, not {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = compose_interpolate(&v).unwrap_or_else(|e| panic!("{k}: {e}"));
            (k, v)
        })
        .collect()
}

/// Every document of the kustomization's resources, in its order.
pub fn k8s_docs() -> Vec<Value> {
    let kustomization = yaml("deployments/k8s/kustomization.yaml");
    let resources = kustomization["resources"]
        .as_sequence()
        .expect("kustomization.yaml lists resources");
    resources
        .iter()
        .flat_map(|r| yaml_docs(&format!("deployments/k8s/{}", scalar(r))))
        .collect()
}

/// The manifest of `kind` named `name`.
pub fn k8s_find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name} in deployments/k8s"))
}

/// The Deployment's fileproc container.
pub fn k8s_container(docs: &[Value]) -> &Value {
    let deployment = k8s_find(docs, "Deployment", "fileproc");
    deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .and_then(|c| c.iter().find(|c| c["name"].as_str() == Some("fileproc")))
        .expect("the Deployment has a container named fileproc")
}

/// The environment the fileproc container gets: `envFrom` ConfigMaps and Secrets (in order),
/// then `env` (literal values); later entries win, as in Kubernetes.
pub fn k8s_env(docs: &[Value]) -> Vec<(String, String)> {
    let container = k8s_container(docs);
    let mut env = Vec::new();
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        if let Some(name) = source["configMapRef"]["name"].as_str() {
            let map = k8s_find(docs, "ConfigMap", name);
            env.extend(pairs(&map["data"]));
        } else if let Some(name) = source["secretRef"]["name"].as_str() {
            let secret = k8s_find(docs, "Secret", name);
            assert!(
                secret["data"].is_null(),
                "Secret {name}: the example values are in stringData"
            );
            env.extend(pairs(&secret["stringData"]));
        } else {
            panic!("envFrom entry not understood: {source:?}");
        }
    }
    for entry in container["env"].as_sequence().into_iter().flatten() {
        let name = str_at(entry, "name", "env entry").to_owned();
        let value = entry
            .get("value")
            .map(scalar)
            .unwrap_or_else(|| panic!("env {name}: only literal values are used"));
        env.push((name, value));
    }
    env
}

fn pairs(map: &Value) -> Vec<(String, String)> {
    map.as_mapping()
        .expect("a map of variables")
        .iter()
        .map(|(k, v)| (scalar(k), scalar(v)))
        .collect()
}
