//! Every probe is a real route at the configured port: the Kubernetes liveness and readiness
//! paths answer 200 on a real server; the Dockerfile's HEALTHCHECK and Compose's fileproc
//! healthcheck (`fileproc healthcheck`) pass against it and fail when nothing answers; and the
//! ports the images, Compose, the manifests and Prometheus use all equal `server.port`.

use std::process::Output;

use serde_yaml::Value;

use crate::environment::{compose_fileproc_env, compose_settings, k8s_settings};
use crate::files::{self, compose_service, k8s_container, k8s_docs, k8s_find, scalar};
use crate::helpers::{TestApp, TestStack};

/// The Dockerfile's HEALTHCHECK command (exec form), e.g. `["fileproc", "healthcheck"]`.
fn dockerfile_healthcheck() -> Vec<String> {
    let instructions = files::dockerfile();
    let healthcheck = instructions
        .iter()
        .find(|i| i.keyword == "HEALTHCHECK")
        .expect("the Dockerfile has a HEALTHCHECK");
    let (_, command) = healthcheck
        .args
        .split_once("CMD ")
        .expect("HEALTHCHECK ... CMD [...]");
    serde_json::from_str(command.trim()).expect("HEALTHCHECK CMD in exec form (a JSON array)")
}

/// Compose's healthcheck of the fileproc service, without its leading `CMD`.
fn compose_healthcheck() -> Vec<String> {
    let compose = files::yaml("docker-compose.yml");
    let test = compose_service(&compose, "fileproc")["healthcheck"]["test"]
        .as_sequence()
        .expect("fileproc's healthcheck test is a list");
    let words: Vec<String> = test.iter().map(scalar).collect();
    assert_eq!(
        words[0], "CMD",
        "exec form: the image has no shell tools to rely on"
    );
    words[1..].to_vec()
}

/// Runs a healthcheck command with the `fileproc` binary of this build, in the workspace root
/// (as the image's WORKDIR holds configs/config.yaml), with exactly `env`.
async fn run_healthcheck(command: &[String], env: &[(String, String)]) -> Output {
    assert_eq!(command[0], "fileproc", "the probe runs the fileproc binary");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_fileproc"))
        .args(&command[1..])
        .current_dir(files::root())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .expect("running fileproc healthcheck")
}

/// `env` with the server's port replaced by `port` (the test server's, as SERVER_PORT).
fn with_port(env: &[(String, String)], port: u16) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "SERVER_PORT")
        .cloned()
        .collect();
    env.push(("SERVER_PORT".to_owned(), port.to_string()));
    env
}

/// The httpGet probes of the fileproc container: `(probe, path, port)`.
fn k8s_probes(container: &Value) -> Vec<(&'static str, String, Value)> {
    ["livenessProbe", "readinessProbe", "startupProbe"]
        .into_iter()
        .filter(|p| !container[*p].is_null())
        .map(|p| {
            let get = &container[p]["httpGet"];
            (
                p,
                files::str_at(get, "path", p).to_owned(),
                get["port"].clone(),
            )
        })
        .collect()
}

/// A container port by name or number, as a number.
fn resolve_port(container: &Value, port: &Value) -> u64 {
    let ports = container["ports"].as_sequence().expect("container ports");
    match port {
        Value::Number(n) => n.as_u64().expect("a port number"),
        Value::String(name) => ports
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => panic!("a port is a name or a number, not {other:?}"),
    }
}

#[tokio::test]
async fn every_probe_answers_on_a_real_server() {
    let docs = k8s_docs();
    let container = k8s_container(&docs);
    let probes = k8s_probes(container);
    let paths: Vec<&str> = probes.iter().map(|(_, path, _)| path.as_str()).collect();
    assert!(
        paths.contains(&"/health") && paths.contains(&"/ready"),
        "{paths:?}"
    );

    let stack = TestStack::new().await;
    let app = TestApp::start(&stack, &[]).await;
    for (probe, path, _) in &probes {
        let response = app
            .client
            .get(app.url(path))
            .send()
            .await
            .expect("probe request");
        assert_eq!(response.status(), 200, "{probe} GET {path}");
    }

    let port = app.app.as_ref().expect("running").addr().port();
    let docker_env = with_port(&[], port);
    let output = run_healthcheck(&dockerfile_healthcheck(), &docker_env).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "Dockerfile HEALTHCHECK: {output:?}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("healthy: GET http://127.0.0.1:{port}/health answered 200")
    );

    // The Compose container's own environment (its DATABASE_URL and all) with the test port.
    let compose_env = with_port(&compose_fileproc_env(), port);
    let output = run_healthcheck(&compose_healthcheck(), &compose_env).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "Compose healthcheck: {output:?}"
    );

    // A route that is not there fails the probe.
    let missing = vec![
        "fileproc".to_owned(),
        "healthcheck".to_owned(),
        "--url".to_owned(),
        app.url("/no-such-probe"),
    ];
    let output = run_healthcheck(&missing, &[]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("status 404"),
        "{output:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_healthcheck_fails_when_nothing_listens_on_the_port() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let output = run_healthcheck(&dockerfile_healthcheck(), &with_port(&[], port)).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("unhealthy: GET http://127.0.0.1:{port}/health")),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_healthcheck_fails_with_1_when_the_config_does_not_load() {
    // Docker's HEALTHCHECK reserves exit codes other than 0 and 1.
    let env = vec![("SERVER_PORT".to_owned(), "not-a-port".to_owned())];
    let output = run_healthcheck(&dockerfile_healthcheck(), &env).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("unhealthy: the settings do not load:")
            && stderr.contains("SERVER_PORT"),
        "{stderr}"
    );
}

#[test]
fn the_image_exposes_the_configured_port() {
    // The image sets no SERVER_PORT: configs/config.yaml (copied into it) decides.
    let instructions = files::dockerfile();
    assert!(
        !instructions
            .iter()
            .any(|i| i.keyword == "ENV" && i.args.contains("SERVER_PORT")),
        "the image leaves the port to configs/config.yaml"
    );
    let settings = fileproc::config::Settings::from_sources(
        Some(&files::root().join("configs/config.yaml")),
        Vec::<(String, String)>::new(),
    )
    .expect("configs/config.yaml loads");
    let exposed: Vec<u16> = instructions
        .iter()
        .filter(|i| i.keyword == "EXPOSE")
        .flat_map(|i| {
            i.args
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|p| p.trim_end_matches("/tcp").parse().expect("EXPOSE port"))
        .collect();
    assert_eq!(exposed, vec![settings.server.port]);
    assert_eq!(settings.server.port, 8080);
}

#[test]
fn compose_publishes_and_scrapes_the_configured_port() {
    let port = compose_settings().server.port;
    assert_eq!(port, 8080);
    let compose = files::yaml("docker-compose.yml");
    let ports: Vec<u16> = compose_service(&compose, "fileproc")["ports"]
        .as_sequence()
        .expect("fileproc publishes a port")
        .iter()
        .map(|p| {
            let p = scalar(p);
            let container = p.rsplit(':').next().unwrap_or(&p);
            container.parse().expect("a container port")
        })
        .collect();
    assert_eq!(ports, vec![port], "the published container port");

    let prometheus = files::yaml("monitoring/prometheus/prometheus.yml");
    let job = prometheus["scrape_configs"]
        .as_sequence()
        .and_then(|jobs| {
            jobs.iter()
                .find(|j| j["job_name"].as_str() == Some("fileproc"))
        })
        .expect("a fileproc scrape job");
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    let targets: Vec<String> = job["static_configs"][0]["targets"]
        .as_sequence()
        .expect("targets")
        .iter()
        .map(scalar)
        .collect();
    assert_eq!(targets, vec![format!("fileproc:{port}")]);
}

#[test]
fn the_manifests_probe_and_serve_the_configured_port() {
    let port = u64::from(k8s_settings().server.port);
    assert_eq!(port, 8080);
    let docs = k8s_docs();
    let container = k8s_container(&docs);
    let http = resolve_port(container, &Value::String("http".into()));
    assert_eq!(http, port, "containerPort http is server.port");
    let probes = k8s_probes(container);
    assert_eq!(probes.len(), 2, "liveness and readiness: {probes:?}");
    for (probe, path, probe_port) in &probes {
        assert_eq!(resolve_port(container, probe_port), port, "{probe} {path}");
    }
    let service = k8s_find(&docs, "Service", "fileproc");
    let target = &service["spec"]["ports"][0]["targetPort"];
    assert_eq!(resolve_port(container, target), port, "Service targetPort");
    let pod = &k8s_find(&docs, "Deployment", "fileproc")["spec"]["template"];
    let annotated = files::str_at(&pod["metadata"]["annotations"], "prometheus.io/port", "pod");
    assert_eq!(annotated, port.to_string(), "the scrape annotation");
}
