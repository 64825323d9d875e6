//! The Compose files and the Kubernetes manifests parse and hold what running fileproc needs:
//! the services, profiles and start-up order of the stack; the kinds of the manifests, their
//! selectors, security context and resources; and the ConfigMap's copy of configs/config.yaml.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::files::{self, compose_service, k8s_container, k8s_docs, k8s_find, scalar};

/// The names of a YAML map's keys.
fn keys(map: &Value) -> BTreeSet<String> {
    map.as_mapping()
        .map(|m| m.keys().map(scalar).collect())
        .unwrap_or_default()
}

fn profiles(service: &Value) -> Vec<String> {
    service["profiles"]
        .as_sequence()
        .map(|p| p.iter().map(scalar).collect())
        .unwrap_or_default()
}

#[test]
fn the_compose_stack_starts_fileproc_after_its_dependencies_are_healthy() {
    let compose = files::yaml("docker-compose.yml");
    let services = keys(&compose["services"]);
    let expected: BTreeSet<String> = [
        "fileproc",
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "clamav",
        "prometheus",
        "grafana",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(services, expected);

    let image = |name: &str| scalar(&compose_service(&compose, name)["image"]);
    assert_eq!(image("postgres"), "postgres:15");
    assert_eq!(image("redis"), "redis:7");
    assert!(image("minio-init").starts_with("minio/mc"));

    let depends = &compose_service(&compose, "fileproc")["depends_on"];
    let condition = |name: &str| scalar(&depends[name]["condition"]);
    assert_eq!(condition("postgres"), "service_healthy");
    assert_eq!(condition("redis"), "service_healthy");
    assert_eq!(condition("minio-init"), "service_completed_successfully");
    assert_eq!(condition("clamav"), "service_healthy");
    assert_eq!(
        depends["clamav"]["required"].as_bool(),
        Some(false),
        "clamav is optional"
    );

    // Everything fileproc waits for on its healthy condition has a healthcheck.
    for name in ["postgres", "redis", "minio", "clamav"] {
        assert!(
            compose_service(&compose, name)["healthcheck"]["test"].is_sequence(),
            "{name} has a healthcheck"
        );
    }
    // The bucket the one-shot makes is the one fileproc stores into.
    let init = scalar(&compose_service(&compose, "minio-init")["command"][0]);
    let bucket = crate::environment::compose_settings().storage.bucket;
    let bucket = bucket.expect("S3_BUCKET");
    assert!(
        init.contains(&format!("mc mb --ignore-existing local/{bucket}")),
        "{init}"
    );

    assert_eq!(
        profiles(compose_service(&compose, "clamav")),
        vec!["clamav"]
    );
    for name in ["prometheus", "grafana"] {
        assert_eq!(
            profiles(compose_service(&compose, name)),
            vec!["monitoring"]
        );
    }
    for name in ["fileproc", "postgres", "redis", "minio", "minio-init"] {
        assert!(
            profiles(compose_service(&compose, name)).is_empty(),
            "{name} always runs"
        );
    }
}

#[test]
fn the_monitoring_services_mount_files_that_exist() {
    let compose = files::yaml("docker-compose.yml");
    let mut mounted = 0;
    for name in ["prometheus", "grafana"] {
        for volume in compose_service(&compose, name)["volumes"]
            .as_sequence()
            .expect("volumes")
        {
            let volume = scalar(volume);
            if let Some(local) = volume.strip_prefix("./") {
                let source = local.split(':').next().unwrap_or_default();
                assert!(
                    files::root().join(source).is_dir(),
                    "{name} mounts {source}"
                );
                mounted += 1;
            }
        }
    }
    assert_eq!(
        mounted, 3,
        "prometheus/, grafana/provisioning and grafana/dashboards"
    );
    let config = scalar(&compose_service(&compose, "prometheus")["command"][0]);
    assert_eq!(config, "--config.file=/etc/prometheus/prometheus.yml");
}

#[test]
fn the_compose_test_file_runs_the_suite_against_the_stack() {
    let test = files::yaml("docker-compose.test.yml");
    let tests = &test["services"]["tests"];
    assert_eq!(tests["build"]["target"].as_str(), Some("test"));
    let command: Vec<String> = tests["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .map(scalar)
        .collect();
    assert_eq!(command, ["cargo", "test", "--locked", "--workspace"]);
    let env = files::compose_env(tests);
    let names: BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for name in [
        "TEST_DATABASE_URL",
        "TEST_REDIS_URL",
        "TEST_S3_ENDPOINT",
        "TEST_S3_BUCKET",
        "TEST_CLAMAV_HOST",
    ] {
        assert!(names.contains(name), "{name} is set");
    }
    // Its hosts are services of the main file.
    let compose = files::yaml("docker-compose.yml");
    for name in keys(&tests["depends_on"]) {
        compose_service(&compose, &name);
    }
}

#[test]
fn the_manifests_hold_each_kind_once_and_select_the_pods() {
    let docs = k8s_docs();
    let kinds: Vec<String> = docs.iter().map(|d| scalar(&d["kind"])).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Namespace",
            "PodDisruptionBudget",
            "Secret",
            "Service"
        ]
    );
    let deployment = k8s_find(&docs, "Deployment", "fileproc");
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    let pairs = selector.as_mapping().expect("matchLabels");
    assert!(!pairs.is_empty());
    for (key, value) in pairs {
        assert_eq!(&labels[key], value, "the pods carry the selector's labels");
    }
    let service = k8s_find(&docs, "Service", "fileproc");
    assert_eq!(&service["spec"]["selector"], selector);
    let pdb = k8s_find(&docs, "PodDisruptionBudget", "fileproc");
    assert_eq!(scalar(&pdb["apiVersion"]), "policy/v1");
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], selector);
    let hpa = k8s_find(&docs, "HorizontalPodAutoscaler", "fileproc");
    assert_eq!(scalar(&hpa["apiVersion"]), "autoscaling/v2");
    assert_eq!(scalar(&hpa["spec"]["scaleTargetRef"]["kind"]), "Deployment");
    assert_eq!(scalar(&hpa["spec"]["scaleTargetRef"]["name"]), "fileproc");
    let min = hpa["spec"]["minReplicas"].as_u64().expect("minReplicas");
    let min_available = pdb["spec"]["minAvailable"].as_u64().expect("minAvailable");
    assert!(
        min > min_available,
        "a disruption leaves an instance serving"
    );
}

#[test]
fn the_pod_runs_non_root_on_a_read_only_root_with_a_writable_tmp() {
    let docs = k8s_docs();
    let pod = &k8s_find(&docs, "Deployment", "fileproc")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(10001));
    let container = k8s_container(&docs);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    let tmp = container["volumeMounts"]
        .as_sequence()
        .and_then(|m| m.iter().find(|m| m["mountPath"].as_str() == Some("/tmp")))
        .expect("/tmp is mounted");
    let tmp_name = scalar(&tmp["name"]);
    let volume = pod["volumes"]
        .as_sequence()
        .and_then(|v| {
            v.iter()
                .find(|v| v["name"].as_str() == Some(tmp_name.as_str()))
        })
        .expect("the /tmp volume");
    assert!(volume["emptyDir"].is_mapping(), "/tmp is an emptyDir");
    for key in ["requests", "limits"] {
        assert!(
            container["resources"][key]["memory"].is_string(),
            "resources.{key}.memory"
        );
    }
    // More than server.shutdown_timeout, so jobs are handed back before the kill.
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace period");
    let shutdown = crate::environment::k8s_settings().server.shutdown_timeout;
    assert!(grace > shutdown.as_secs(), "{grace} s > {shutdown:?}");
}

#[test]
fn the_configmap_holds_configs_config_yaml_unchanged() {
    let docs = k8s_docs();
    let map = k8s_find(&docs, "ConfigMap", "fileproc-config");
    let held = files::str_at(&map["data"], "config.yaml", "fileproc-config");
    assert!(
        held == files::read("configs/config.yaml"),
        "deployments/k8s/configmap.yaml differs from configs/config.yaml: run scripts/k8s-configmap.sh"
    );
}

#[test]
fn the_secret_holds_only_example_values() {
    let docs = k8s_docs();
    let secret = k8s_find(&docs, "Secret", "fileproc-secrets");
    let values = secret["stringData"].as_mapping().expect("stringData");
    assert_eq!(values.len(), 4);
    for (name, value) in values {
        assert!(
            scalar(value).contains("CHANGE-ME-example"),
            "{} is a clearly marked example",
            scalar(name)
        );
    }
}
