//! `verdict --explain` and `endpoints discover`: offline from the bundled configuration
//! snapshot, and live against moto's EC2 and RDS.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{Moto, stderr, stdout, testdata, vpcflow, vpcflow_env};
use serde_json::Value;

const SNAPSHOT: &str = "rds-sg-patterns/config";
const DB_SG: [&str; 3] = [
    "sg-0a1b2c3d4e5f60001",
    "sg-0b2c3d4e5f6a70002",
    "sg-0c3d4e5f6a7b80003",
];

fn path(rel: &str) -> String {
    testdata(rel).to_str().unwrap().to_owned()
}

/// The first verdict of each endpoint: the app client's (10.0.1.10), which sorts before the
/// bastion's at dbinstance3.
fn by_endpoint(out: &std::process::Output) -> BTreeMap<String, Value> {
    let mut first = BTreeMap::new();
    for v in stdout(out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
    {
        first
            .entry(v["endpoint"].as_str().unwrap().to_owned())
            .or_insert(v);
    }
    first
}

fn explain_offline(snapshot: &str) -> std::process::Output {
    vpcflow(&[
        "verdict",
        "--endpoints",
        &path("rds-sg-patterns/endpoints.toml"),
        "--config-snapshot",
        snapshot,
        "-o",
        "json",
        &path("rds-sg-patterns/cloudwatch"),
    ])
}

/// The inbound rule of dbinstance3's group, read from the snapshot: the fix to propose.
fn allow_rule_in_snapshot() -> (i64, String) {
    let text = std::fs::read_to_string(testdata(SNAPSHOT).join("security-groups.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let group = doc["SecurityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["GroupId"] == DB_SG[2])
        .unwrap();
    let rule = &group["IpPermissions"][0];
    assert_eq!(rule["IpProtocol"], "tcp");
    (
        rule["FromPort"].as_i64().unwrap(),
        rule["UserIdGroupPairs"][0]["GroupId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[test]
fn the_snapshot_names_the_blocking_groups_and_proposes_dbinstance3s_rule() {
    let out = explain_offline(&path(SNAPSHOT));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = by_endpoint(&out);
    let (port, client_group) = allow_rule_in_snapshot();
    let fix = format!("tcp {port} from {client_group}");

    let db1 = &v["dbinstance1"];
    assert_eq!(db1["verdict"], "blocked");
    assert_eq!(db1["blocked_by"], format!("sg:{}", DB_SG[0]));
    assert_eq!(
        db1["self_reference"], true,
        "the default group's self-reference"
    );
    assert!(
        db1["explanation"]
            .as_str()
            .unwrap()
            .contains("admits only its own members"),
        "{db1}"
    );
    assert!(db1["fix"].as_str().unwrap().contains(&fix), "{db1}");

    let db2 = &v["dbinstance2"];
    assert_eq!(db2["blocked_by"], format!("sg:{}", DB_SG[1]));
    assert_eq!(
        db2["explanation"],
        format!(
            "sg:{} (RDSDenySecurityGroup) has no inbound rule for tcp/3306 from 10.0.1.10 / {client_group}",
            DB_SG[1]
        )
    );
    assert_eq!(
        db2["fix"],
        format!(
            "add an inbound rule to {}: {fix} (as {} (RDSAllowSecurityGroup) already does)",
            DB_SG[1], DB_SG[2]
        )
    );
    assert_eq!(db2["contradiction"], false);

    let db3 = &v["dbinstance3"];
    assert_eq!(db3["verdict"], "allowed");
    assert_eq!(db3["explanation"], Value::Null, "nothing to explain");
}

#[test]
fn the_table_has_a_line_and_a_fix_per_blocked_pair() {
    let out = vpcflow(&[
        "verdict",
        "--endpoints",
        &path("rds-sg-patterns/endpoints.toml"),
        "--config-snapshot",
        &path(SNAPSHOT),
        &path("rds-sg-patterns/cloudwatch"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let why: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Why"))
        .skip(1)
        .collect();
    assert_eq!(why.len(), 4, "{text}");
    assert!(why[0].starts_with(
        "  blocked dbinstance1 ← 10.0.1.10 tcp/3306: sg:sg-0a1b2c3d4e5f60001 (default)"
    ));
    assert!(
        why[1].trim_start().starts_with(
            "fix: give the database a security group of its own with an inbound rule tcp 3306 from sg-0d4e5f6a7b8c90004 (as sg-0c3d4e5f6a7b80003 (RDSAllowSecurityGroup) already does)"
        ),
        "{}",
        why[1]
    );
    assert!(why[2].starts_with("  blocked dbinstance2"));
}

#[test]
fn a_snapshot_that_admits_what_was_rejected_is_called_a_contradiction() {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(testdata(SNAPSHOT)).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    // Someone has since added dbinstance3's rule to dbinstance2's group.
    let groups = dir.path().join("security-groups.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&groups).unwrap()).unwrap();
    let list = doc["SecurityGroups"].as_array_mut().unwrap();
    let allow = list.iter().find(|g| g["GroupId"] == DB_SG[2]).unwrap()["IpPermissions"].clone();
    list.iter_mut().find(|g| g["GroupId"] == DB_SG[1]).unwrap()["IpPermissions"] = allow;
    std::fs::write(&groups, serde_json::to_string(&doc).unwrap()).unwrap();

    let out = explain_offline(dir.path().to_str().unwrap());
    let v = by_endpoint(&out);
    let db2 = &v["dbinstance2"];
    assert_eq!(db2["verdict"], "blocked");
    assert_eq!(db2["contradiction"], true, "{db2}");
    assert_eq!(db2["blocked_by"], Value::Null);
    assert!(
        db2["explanation"].as_str().unwrap().starts_with(
            "contradiction: the configuration admits 10.0.1.10 → dbinstance2 tcp/3306"
        )
    );
    assert_eq!(v["dbinstance1"]["contradiction"], false);
}

#[test]
fn an_incomplete_snapshot_says_which_describe_call_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        testdata(SNAPSHOT).join("security-groups.json"),
        dir.path().join("sg.json"),
    )
    .unwrap();
    let out = explain_offline(dir.path().to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("aws ec2 describe-network-acls --output json"),
        "{err}"
    );
    assert!(err.contains("describe-subnets"), "{err}");
    assert!(!err.contains("describe-security-groups"), "{err}");

    std::fs::write(dir.path().join("junk.json"), "{\"Reservations\": []}").unwrap();
    let out = explain_offline(dir.path().to_str().unwrap());
    assert!(
        stderr(&out).contains("junk.json: has none of the keys"),
        "{}",
        stderr(&out)
    );
}

// ---- live, against moto -------------------------------------------------------------------

/// What the test builds in moto, by the scenario's names.
struct Built {
    /// scenario id (from testdata) → moto's id
    ids: BTreeMap<String, String>,
    client_sg: String,
    default_sg: String,
    deny_sg: String,
    client_acl: String,
}

/// The rds-sg-patterns network in moto: a VPC, a client subnet with a custom network ACL, two
/// database subnets, the four security groups (the default group with its self-reference, one
/// with no inbound rule, one admitting 3306 from the client's group), the client's ENI, three
/// MySQL instances and one Aurora member, with the ENIs RDS would have created for them (moto's
/// RDS creates none).
fn build(moto: &Moto) -> Built {
    use aws_sdk_ec2::types::{IpPermission, PortRange, RuleAction, UserIdGroupPair};
    let (ec2, rds) = (moto.ec2(), moto.rds());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut ids = BTreeMap::new();
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
        let subnet = |cidr: &'static str| {
            let ec2 = ec2.clone();
            let vpc = vpc.clone();
            async move {
                let s = ec2
                    .create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(cidr)
                    .send()
                    .await
                    .unwrap();
                s.subnet().unwrap().subnet_id().unwrap().to_owned()
            }
        };
        let client_subnet = subnet("10.0.1.0/24").await;
        let db_a = subnet("10.0.3.128/25").await;
        let db_b = subnet("10.0.3.0/25").await;

        let groups = ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&vpc)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let default_group = groups
            .security_groups()
            .iter()
            .find(|g| g.group_name() == Some("default"))
            .unwrap();
        let default_sg = default_group.group_id().unwrap().to_owned();
        let has_self_reference = default_group.ip_permissions().iter().any(|p| {
            p.user_id_group_pairs()
                .iter()
                .any(|u| u.group_id() == Some(default_sg.as_str()))
        });
        let from_group = |protocol: &str, port: Option<i32>, group: &str| {
            IpPermission::builder()
                .ip_protocol(protocol)
                .set_from_port(port)
                .set_to_port(port)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(group).build())
                .build()
        };
        // AWS gives every default group this self-reference; moto 5.2 leaves it out.
        if !has_self_reference {
            ec2.authorize_security_group_ingress()
                .group_id(&default_sg)
                .ip_permissions(from_group("-1", None, &default_sg))
                .send()
                .await
                .unwrap();
        }
        let group = |name: &'static str| {
            let ec2 = ec2.clone();
            let vpc = vpc.clone();
            async move {
                let g = ec2
                    .create_security_group()
                    .group_name(name)
                    .description(name)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .unwrap();
                g.group_id().unwrap().to_owned()
            }
        };
        let deny_sg = group("RDSDenySecurityGroup").await;
        let client_sg = group("ClientSecurityGroup").await;
        let allow_sg = group("RDSAllowSecurityGroup").await;
        let aurora_sg = group("AuroraSecurityGroup").await;
        let bastion_sg = group("BastionSecurityGroup").await;
        for g in [&allow_sg, &aurora_sg] {
            ec2.authorize_security_group_ingress()
                .group_id(g)
                .ip_permissions(from_group("tcp", Some(3306), &client_sg))
                .send()
                .await
                .unwrap();
        }
        // dbinstance3's group also admits the bastion (make.py).
        ec2.authorize_security_group_ingress()
            .group_id(&allow_sg)
            .ip_permissions(from_group("tcp", Some(3306), &bastion_sg))
            .send()
            .await
            .unwrap();

        // The client's subnet gets a stateless ACL: MySQL out, replies in, nothing else.
        let acl = ec2.create_network_acl().vpc_id(&vpc).send().await.unwrap();
        let acl = acl
            .network_acl()
            .unwrap()
            .network_acl_id()
            .unwrap()
            .to_owned();
        for (n, egress, ports) in [(100, true, (3306, 3306)), (100, false, (1024, 65535))] {
            ec2.create_network_acl_entry()
                .network_acl_id(&acl)
                .rule_number(n)
                .protocol("6")
                .rule_action(RuleAction::Allow)
                .egress(egress)
                .cidr_block("10.0.3.0/24")
                .port_range(PortRange::builder().from(ports.0).to(ports.1).build())
                .send()
                .await
                .unwrap();
        }
        let acls = ec2.describe_network_acls().send().await.unwrap();
        let association = acls
            .network_acls()
            .iter()
            .flat_map(|a| a.associations())
            .find(|a| a.subnet_id() == Some(client_subnet.as_str()))
            .unwrap()
            .network_acl_association_id()
            .unwrap()
            .to_owned();
        ec2.replace_network_acl_association()
            .association_id(association)
            .network_acl_id(&acl)
            .send()
            .await
            .unwrap();

        let eni = |subnet: String, ip: &'static str, group: String, description: &'static str| {
            let ec2 = ec2.clone();
            async move {
                let e = ec2
                    .create_network_interface()
                    .subnet_id(subnet)
                    .private_ip_address(ip)
                    .groups(group)
                    .description(description)
                    .send()
                    .await
                    .unwrap();
                e.network_interface()
                    .unwrap()
                    .network_interface_id()
                    .unwrap()
                    .to_owned()
            }
        };
        let scenario = [
            (
                "eni-0c1a2b3c4d5e6f708",
                client_subnet.clone(),
                "10.0.1.10",
                client_sg.clone(),
                "client",
            ),
            (
                "eni-0b1a2b3c4d5e6f709",
                client_subnet.clone(),
                "10.0.1.20",
                bastion_sg.clone(),
                "bastion",
            ),
            (
                "eni-085da82d3ccb0f0ad",
                db_a.clone(),
                "10.0.3.213",
                default_sg.clone(),
                "RDSNetworkInterface",
            ),
            (
                "eni-0acae018ffc56ba56",
                db_a.clone(),
                "10.0.3.205",
                deny_sg.clone(),
                "RDSNetworkInterface",
            ),
            (
                "eni-0e71f2697f24bffbf",
                db_b.clone(),
                "10.0.3.82",
                allow_sg.clone(),
                "RDSNetworkInterface",
            ),
            (
                "aurora",
                db_b.clone(),
                "10.0.3.90",
                aurora_sg.clone(),
                "RDSNetworkInterface",
            ),
        ];
        for (name, subnet, ip, group, description) in scenario {
            ids.insert(name.to_owned(), eni(subnet, ip, group, description).await);
        }

        rds.create_db_subnet_group()
            .db_subnet_group_name("rds-sg-patterns")
            .db_subnet_group_description("the database subnets")
            .subnet_ids(&db_a)
            .subnet_ids(&db_b)
            .send()
            .await
            .unwrap();
        for (name, group) in [
            ("dbinstance1", &default_sg),
            ("dbinstance2", &deny_sg),
            ("dbinstance3", &allow_sg),
        ] {
            rds.create_db_instance()
                .db_instance_identifier(name)
                .engine("mysql")
                .db_instance_class("db.t3.micro")
                .allocated_storage(20)
                .master_username("admin")
                .master_user_password("password123")
                .db_subnet_group_name("rds-sg-patterns")
                .vpc_security_group_ids(group)
                .send()
                .await
                .unwrap();
        }
        rds.create_db_cluster()
            .db_cluster_identifier("aurora1")
            .engine("aurora-mysql")
            .master_username("admin")
            .master_user_password("password123")
            .db_subnet_group_name("rds-sg-patterns")
            .vpc_security_group_ids(&aurora_sg)
            .send()
            .await
            .unwrap();
        rds.create_db_instance()
            .db_instance_identifier("aurora1-a")
            .db_cluster_identifier("aurora1")
            .engine("aurora-mysql")
            .db_instance_class("db.r6g.large")
            .db_subnet_group_name("rds-sg-patterns")
            .send()
            .await
            .unwrap();
        Built {
            ids,
            client_sg,
            default_sg,
            deny_sg,
            client_acl: acl,
        }
    })
}

/// The bundled CloudWatch files with the scenario's ENI ids replaced by moto's.
fn logs_with_ids(built: &Built, dir: &Path) {
    let src = testdata("rds-sg-patterns/cloudwatch/soa-05-001-FlowLogGroup");
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap().path();
        let mut text = std::fs::read_to_string(&f).unwrap();
        for (from, to) in &built.ids {
            text = text.replace(from.as_str(), to);
        }
        std::fs::write(dir.join(f.file_name().unwrap()), text).unwrap();
    }
}

#[test]
fn discovery_and_explanation_against_moto() {
    let moto = Moto::start();
    let built = build(&moto);
    let env = moto.env();

    // Pages of 2 make DescribeDBInstances page: 4 instances take 2 or 3 calls, not 1, so
    // discovery makes at least 4 requests (with DescribeDBClusters and
    // DescribeNetworkInterfaces), where it would make 3 without paging.
    let before = moto.requests("POST /").len();
    let out = vpcflow_env(&["endpoints", "discover", "--page-size", "2"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(moto.requests("POST /").len() - before >= 4);
    let doc: toml::Table = toml::from_str(&stdout(&out)).unwrap();
    let endpoints: BTreeMap<String, &toml::Table> = doc["endpoint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_table().unwrap())
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e))
        .collect();
    assert_eq!(
        endpoints.keys().collect::<Vec<_>>(),
        ["aurora1-a", "dbinstance1", "dbinstance2", "dbinstance3"]
    );
    let db1 = endpoints["dbinstance1"];
    assert_eq!(db1["address"].as_str(), Some("10.0.3.213"));
    assert_eq!(db1["port"].as_integer(), Some(3306));
    assert_eq!(db1["engine"].as_str(), Some("mysql"));
    assert_eq!(
        db1["interface_id"].as_str(),
        Some(built.ids["eni-085da82d3ccb0f0ad"].as_str())
    );
    assert_eq!(
        db1["security_group_ids"].as_array().unwrap()[0].as_str(),
        Some(built.default_sg.as_str())
    );
    assert_eq!(
        endpoints["dbinstance3"]["address"].as_str(),
        Some("10.0.3.82")
    );
    assert_eq!(endpoints["aurora1-a"]["cluster"].as_str(), Some("aurora1"));
    assert_eq!(
        endpoints["aurora1-a"]["address"].as_str(),
        Some("10.0.3.90")
    );

    // Regression: `verdict --discover` paged with a fixed 100; the hidden page size now
    // reaches it as it reaches `endpoints discover`.
    let logs_dir = tempfile::tempdir().unwrap();
    std::fs::write(logs_dir.path().join("empty.log"), "").unwrap();
    let calls = |extra: &[&str]| {
        let before = moto.requests("POST /").len();
        let mut args = vec!["verdict", "--discover", "-o", "json"];
        args.extend_from_slice(extra);
        args.push(logs_dir.path().to_str().unwrap());
        let out = vpcflow_env(&args, &env);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        moto.requests("POST /").len() - before
    };
    assert_eq!(
        calls(&[]),
        3,
        "one page each of instances, clusters and ENIs"
    );
    assert!(calls(&["--discover-page-size", "2"]) >= 4);

    // The written catalogue reads back, and --out refuses to overwrite.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("endpoints.toml");
    let file = file.to_str().unwrap();
    let out = vpcflow_env(&["endpoints", "discover", "--out", file], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = vpcflow_env(&["endpoints", "discover", "--out", file], &env);
    assert_eq!(again.status.code(), Some(2));

    // Verdicts with the catalogue discovered in memory, explained from the live configuration.
    let logs = tempfile::tempdir().unwrap();
    logs_with_ids(&built, logs.path());
    let live = || {
        vpcflow_env(
            &[
                "verdict",
                "--discover",
                "--explain",
                "-o",
                "json",
                logs.path().to_str().unwrap(),
            ],
            &env,
        )
    };
    let out = live();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no traffic seen for: aurora1-a"),
        "{}",
        stderr(&out)
    );
    let v = by_endpoint(&out);
    let fix = format!("tcp 3306 from {}", built.client_sg);
    assert_eq!(
        v["dbinstance1"]["blocked_by"],
        format!("sg:{}", built.default_sg)
    );
    assert_eq!(v["dbinstance1"]["self_reference"], true);
    assert!(v["dbinstance1"]["fix"].as_str().unwrap().contains(&fix));
    assert_eq!(
        v["dbinstance2"]["blocked_by"],
        format!("sg:{}", built.deny_sg)
    );
    assert!(
        v["dbinstance2"]["fix"].as_str().unwrap().contains(&fix),
        "{}",
        v["dbinstance2"]
    );
    assert_eq!(v["dbinstance3"]["verdict"], "allowed");
    assert_eq!(
        v["dbinstance3"]["explanation"],
        Value::Null,
        "the client ACL admits MySQL and its replies"
    );

    // Take the replies' rule out of the client subnet's ACL: the configuration now blocks what
    // the logs show connected.
    let ec2 = moto.ec2();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        ec2.delete_network_acl_entry()
            .network_acl_id(&built.client_acl)
            .rule_number(100)
            .egress(false)
            .send()
            .await
            .unwrap();
    });
    let out = live();
    let v = by_endpoint(&out);
    let db3 = &v["dbinstance3"];
    assert_eq!(db3["contradiction"], true, "{db3}");
    assert_eq!(db3["blocked_by"], format!("nacl:{}", built.client_acl));
    assert!(
        db3["explanation"]
            .as_str()
            .unwrap()
            .contains("(the reply, tcp 51238-51244 from 10.0.3.82)"),
        "{db3}"
    );
    assert!(
        db3["fix"]
            .as_str()
            .unwrap()
            .contains("inbound allow rule to"),
        "{db3}"
    );
}

#[test]
fn explain_with_no_ec2_to_ask_fails_before_reading_logs() {
    // A loopback port nothing listens on: every EC2 call fails (after the SDK's retries).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", url),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
    ];
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            &path("rds-sg-patterns/endpoints.toml"),
            "--explain",
            &path("rds-sg-patterns/cloudwatch"),
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).is_empty(),
        "no verdicts without the configuration"
    );
    let err = stderr(&out);
    assert!(err.contains("DescribeSecurityGroups failed"), "{err}");
    assert!(err.contains("--config-snapshot"), "{err}");
}

#[test]
fn verdict_and_tail_need_a_catalogue_or_discovery_but_not_both() {
    for cmd in ["verdict", "tail"] {
        let out = vpcflow(&[cmd, "--log-group", "g"]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(
            stderr(&out).contains("--endpoints <FILE>"),
            "{cmd}: {}",
            stderr(&out)
        );
        let both = vpcflow(&[
            cmd,
            "--log-group",
            "g",
            "--endpoints",
            "x.toml",
            "--discover",
        ]);
        assert_eq!(both.status.code(), Some(2), "{cmd}");
        assert!(
            stderr(&both).contains("cannot be used with"),
            "{cmd}: {}",
            stderr(&both)
        );
    }
}

/// `verdict` on one of the reject-reason fixtures, as JSON, with `--config-snapshot` when given.
fn reject_reason_pair(file: &str, snapshot: Option<&str>) -> Value {
    let (log, endpoints) = (
        path(&format!("reject-reason/{file}")),
        path("rds-sg-patterns/endpoints.toml"),
    );
    let mut args = vec!["verdict", "--endpoints", &endpoints, "-o", "json", &log];
    if let Some(s) = snapshot {
        args.extend(["--config-snapshot", s]);
    }
    let out = vpcflow(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = by_endpoint(&out);
    assert_eq!(v.len(), 1, "{}", stdout(&out));
    let pair = v["dbinstance2"].clone();
    assert_eq!(pair["client"], "203.0.113.7");
    assert_eq!(
        (pair["verdict"].as_str(), pair["blocked"].as_u64()),
        (Some("blocked"), Some(3))
    );
    pair
}

#[test]
fn bpa_rejects_are_blamed_on_block_public_access_never_a_group() {
    // Without --explain: the reason names the control, and JSON counts the REJECTs by reason.
    let pair = reject_reason_pair("bpa.log", None);
    let reason = pair["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "REJECTed inbound at eni-0acae018ffc56ba56 by VPC Block Public Access (reject-reason BPA)"
        ),
        "{reason}"
    );
    assert!(
        !reason.contains("security group or NACL rule admits"),
        "{reason}"
    );
    assert_eq!(pair["reject_reasons"], serde_json::json!({"BPA": 6}));
    assert_eq!(pair["blocked_by_vpc"], 3);

    // With the snapshot, which has no Block Public Access settings: BPA is named, the group that
    // has no inbound rule is not blamed, and there is no contradiction.
    let pair = reject_reason_pair("bpa.log", Some(&path(SNAPSHOT)));
    assert_eq!(pair["blocked_by"], "bpa", "{pair}");
    assert_eq!(pair["contradiction"], false);
    let detail = pair["explanation"].as_str().unwrap();
    assert!(detail.contains("reject-reason BPA"), "{detail}");
    assert!(!detail.contains(DB_SG[1]), "{detail}");

    // With the account's Block Public Access in the snapshot: its mode, and the exclusion that
    // would admit the flow.
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(testdata(SNAPSHOT)).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("bpa-options.json"),
        r#"{"VpcBlockPublicAccessOptions": {"AwsAccountId": "123456789012", "AwsRegion": "us-east-1", "State": "update-complete", "InternetGatewayBlockMode": "block-bidirectional"}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bpa-exclusions.json"),
        r#"{"VpcBlockPublicAccessExclusions": []}"#,
    )
    .unwrap();
    let pair = reject_reason_pair("bpa.log", Some(dir.path().to_str().unwrap()));
    assert_eq!(pair["blocked_by"], "bpa:block-bidirectional", "{pair}");
    let detail = pair["explanation"].as_str().unwrap();
    assert!(
        detail.starts_with("VPC Block Public Access is in block-bidirectional mode"),
        "{detail}"
    );
    assert!(
        pair["fix"]
            .as_str()
            .unwrap()
            .contains("create-vpc-block-public-access-exclusion --subnet-id"),
        "{pair}"
    );
}

#[test]
fn the_same_rejects_without_a_reason_keep_the_groups_explanation() {
    let pair = reject_reason_pair("plain.log", None);
    let reason = pair["reason"].as_str().unwrap();
    assert!(
        reason.contains("no security group or NACL rule admits 203.0.113.7 on tcp/3306"),
        "{reason}"
    );
    assert_eq!(
        pair.get("reject_reasons"),
        None,
        "no REJECT carried a reason"
    );
    let pair = reject_reason_pair("plain.log", Some(&path(SNAPSHOT)));
    assert_eq!(pair["blocked_by"], format!("sg:{}", DB_SG[1]), "{pair}");
}

/// Expected clients named by security group, resolved live: the scenario's network in moto's
/// EC2, no snapshot and no --explain. The app server's ENI carries the client group, so only the
/// public client's connection is flagged; moto's subnets are the VPC's ranges.
#[test]
fn an_expected_security_group_resolves_through_ec2_in_moto() {
    let moto = Moto::start();
    let built = build(&moto);
    let dir = tempfile::tempdir().unwrap();
    let catalogue = dir.path().join("endpoints.toml");
    let text = std::fs::read_to_string(testdata("expected-clients/endpoints-sg.toml")).unwrap();
    std::fs::write(
        &catalogue,
        text.replace("sg-0d4e5f6a7b8c90004", &built.client_sg),
    )
    .unwrap();
    let before = moto.requests("POST /").len();
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            catalogue.to_str().unwrap(),
            "-o",
            "json",
            &path("expected-clients/flows.log"),
        ],
        &moto.env(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let flagged = crate::verdict::flags(&rows);
    assert_eq!(
        flagged,
        [
            ("10.0.1.10".to_owned(), false, false),
            ("10.0.1.20".to_owned(), false, false),
            ("198.51.100.9".to_owned(), true, true),
        ]
    );
    // DescribeSecurityGroups, DescribeNetworkAcls, DescribeNetworkInterfaces, DescribeSubnets.
    assert!(
        moto.requests("POST /").len() - before >= 4,
        "the group was resolved through EC2"
    );
}
