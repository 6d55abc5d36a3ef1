#!/usr/bin/env python3
"""Writes the rds-sg-patterns scenario's flow logs from the readable event list below.

The experiment: one EC2 client (10.0.1.10) in a private subnet of a VPC in ap-northeast-1 runs
`mysql -h <endpoint>` against three MySQL RDS instances that differ only in their security
groups. dbinstance1 (no group of its own: the VPC default group, which admits only its own
members) and dbinstance2 (a group with no inbound rule) time out with ERROR 2003 (110): their
ENIs REJECT the client's SYNs. dbinstance3 (a group admitting tcp/3306 from the client's group)
connects. Around it: HTTPS to S3, a ping, a port scan REJECTed on the client, a NODATA window.

Two flow logs capture the VPC with TrafficType ALL:
  - to CloudWatch Logs group soa-05-001-FlowLogGroup, default format, one stream per ENI
    -> cloudwatch/soa-05-001-FlowLogGroup/<eni>.log (one record per line, no header);
  - to S3, custom version 5 format, gzip text with a header line, per 5-minute object
    -> s3/AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/11/20/*.log.gz

It also writes config/: the network configuration of the experiment as
`aws ec2 describe-security-groups / describe-network-acls / describe-network-interfaces /
describe-subnets --output json` print it, for `vpcflow verdict --explain --config-snapshot`.

Run it from this directory: python3 make.py. The output is deterministic (gzip mtime 0).
"""
import gzip
import json
import os
from collections import defaultdict

ACCOUNT = "123456789012"
VPC = "vpc-0a1b2c3d4e5f60718"
REGION, AZ = "ap-northeast-1", "apne1-az1"
FLOW_LOG_ID = "fl-0f1e2d3c4b5a69788"

# Security groups: the VPC's default group (admits only its own members), a group with no
# inbound rule, a group admitting MySQL from the client's group, and the client's group.
DEFAULT_SG, DENY_SG, ALLOW_SG, CLIENT_SG = ("sg-0a1b2c3d4e5f60001", "sg-0b2c3d4e5f6a70002",
                                            "sg-0c3d4e5f6a7b80003", "sg-0d4e5f6a7b8c90004")
BASTION_SG = "sg-0e5f6a7b8c9d00005"
SG_NAMES = {DEFAULT_SG: "default", DENY_SG: "RDSDenySecurityGroup",
            ALLOW_SG: "RDSAllowSecurityGroup", CLIENT_SG: "ClientSecurityGroup",
            BASTION_SG: "BastionSecurityGroup"}
SUBNETS = {"subnet-0a1b2c3d4e5f60011": "10.0.1.0/24",     # the client's private subnet
           "subnet-0a1b2c3d4e5f60031": "10.0.3.128/25",   # database subnets
           "subnet-0a1b2c3d4e5f60032": "10.0.3.0/25"}
NACL = "acl-0a1b2c3d4e5f60021"

CLIENT = dict(ip="10.0.1.10", eni="eni-0c1a2b3c4d5e6f708", subnet="subnet-0a1b2c3d4e5f60011",
              instance="i-0a1b2c3d4e5f60789", sg=CLIENT_SG)
# The bastion the catalogue expects at dbinstance3 (endpoints.toml); the app client above, whose
# group dbinstance3's group also admits, is then an unexpected client there.
BASTION = dict(ip="10.0.1.20", eni="eni-0b1a2b3c4d5e6f709", subnet="subnet-0a1b2c3d4e5f60011",
               instance="i-0b1a2b3c4d5e6f70a", sg=BASTION_SG)
DB = {
    "dbinstance1": dict(ip="10.0.3.213", eni="eni-085da82d3ccb0f0ad", subnet="subnet-0a1b2c3d4e5f60031", sg=DEFAULT_SG),
    "dbinstance2": dict(ip="10.0.3.205", eni="eni-0acae018ffc56ba56", subnet="subnet-0a1b2c3d4e5f60031", sg=DENY_SG),
    "dbinstance3": dict(ip="10.0.3.82", eni="eni-0e71f2697f24bffbf", subnet="subnet-0a1b2c3d4e5f60032", sg=ALLOW_SG),
}
SCANNER = "198.51.100.23"
S3_IP = "52.219.16.1"

T0 = 1795165200  # 2026-11-20T09:00:00Z; Nitro instances aggregate over 1-minute windows.
MIN = 60

V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()
V5 = V2 + ("vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id "
           "sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service "
           "flow-direction traffic-path").split()

records = []  # dicts of field -> value


def rec(eni, subnet, instance, src, dst, sport, dport, proto, packets, nbytes, minute, action,
        flags, direction, path="-", src_service="-", dst_service="-"):
    start = T0 + minute * MIN
    records.append({
        "account-id": ACCOUNT, "interface-id": eni, "srcaddr": src, "dstaddr": dst,
        "srcport": sport, "dstport": dport, "protocol": proto, "packets": packets,
        "bytes": nbytes, "start": start + 3, "end": start + MIN - 1, "action": action,
        "log-status": "OK", "vpc-id": VPC, "subnet-id": subnet, "instance-id": instance,
        "tcp-flags": flags, "type": "IPv4", "pkt-srcaddr": src, "pkt-dstaddr": dst,
        "region": REGION, "az-id": AZ, "flow-direction": direction, "traffic-path": path,
        "pkt-src-aws-service": src_service, "pkt-dst-aws-service": dst_service,
    })


def client_side(src, dst, sport, dport, packets, nbytes, minute, action, flags, direction, path="-",
                host=CLIENT, **kw):
    rec(host["eni"], host["subnet"], host["instance"], src, dst, sport, dport, 6, packets,
        nbytes, minute, action, flags, direction, path, **kw)


def db_side(db, src, dst, sport, dport, packets, nbytes, minute, action, flags, direction, path="-"):
    d = DB[db]
    rec(d["eni"], d["subnet"], "-", src, dst, sport, dport, 6, packets, nbytes, minute, action,
        flags, direction, path)


def timed_out_mysql(db, sport, minute):
    """`mysql -h` against a group that admits nothing from the client: the client's SYNs
    (1 + 6 retransmissions over ~127 s) leave its ENI ACCEPTed and are REJECTed at the
    database's ENI. ERROR 2003 (HY000): Can't connect to MySQL server (110)."""
    ip = DB[db]["ip"]
    for m, packets in ((minute, 5), (minute + 1, 2)):
        client_side(CLIENT["ip"], ip, sport, 3306, packets, packets * 60, m, "ACCEPT", 2, "egress", "1")
        db_side(db, CLIENT["ip"], ip, sport, 3306, packets, packets * 60, m, "REJECT", 2, "ingress")


def connected_mysql(db, sport, minute, host=CLIENT):
    """A session that connects, runs a query and quits: request and reply ACCEPTed at both
    ENIs. tcp-flags: SYN|FIN (3) from the client, SYN-ACK|FIN (19) from the server."""
    ip, me = DB[db]["ip"], host["ip"]
    client_side(me, ip, sport, 3306, 12, 1540, minute, "ACCEPT", 3, "egress", "1", host=host)
    client_side(ip, me, 3306, sport, 10, 4133, minute, "ACCEPT", 19, "ingress", host=host)
    db_side(db, me, ip, sport, 3306, 12, 1540, minute, "ACCEPT", 3, "ingress")
    db_side(db, ip, me, 3306, sport, 10, 4133, minute, "ACCEPT", 19, "egress", "1")


# --- What happened, in order. ---------------------------------------------------------------
# 08:50 dbinstance2's ENI had no traffic in a capture window.
records.append({"account-id": ACCOUNT, "interface-id": DB["dbinstance2"]["eni"],
                "start": T0 - 10 * MIN, "end": T0 - 9 * MIN, "log-status": "NODATA",
                "vpc-id": VPC, "subnet-id": DB["dbinstance2"]["subnet"], "region": REGION, "az-id": AZ})
# 09:00 the client fetches something from S3 over HTTPS (gateway endpoint).
client_side(CLIENT["ip"], S3_IP, 40112, 443, 24, 3120, 0, "ACCEPT", 3, "egress", "7", dst_service="S3")
client_side(S3_IP, CLIENT["ip"], 443, 40112, 30, 41230, 0, "ACCEPT", 19, "ingress", src_service="S3")
# 09:01 a ping to dbinstance3 (ICMP: not a connection attempt).
rec(CLIENT["eni"], CLIENT["subnet"], CLIENT["instance"], CLIENT["ip"], DB["dbinstance3"]["ip"], 0, 0, 1,
    4, 336, 1, "ACCEPT", "-", "egress", "1")
# 09:02 mysql -h dbinstance1 ... times out; 09:10 the user tries again.
timed_out_mysql("dbinstance1", 51234, 2)
# 09:05 mysql -h dbinstance2 ... times out; 09:12 again.
timed_out_mysql("dbinstance2", 51236, 5)
# 09:07 someone scans the client from the internet; its group REJECTs every port.
for i, port in enumerate((22, 23, 3389, 8080)):
    client_side(SCANNER, CLIENT["ip"], 61000 + i, port, 1, 44, 7, "REJECT", 2, "ingress")
# 09:08 mysql -h dbinstance3 ... connects.
connected_mysql("dbinstance3", 51238, 8)
timed_out_mysql("dbinstance1", 51240, 10)
timed_out_mysql("dbinstance2", 51242, 12)
# 09:13 an administrator connects to dbinstance3 from the bastion.
connected_mysql("dbinstance3", 40022, 13, host=BASTION)
# 09:14 a second session to dbinstance3.
connected_mysql("dbinstance3", 51244, 14)


def line(r, fields):
    out = []
    for f in fields:
        if f == "version":
            out.append("2" if fields is V2 else "5")
        else:
            out.append(str(r.get(f, "-")))
    return " ".join(out)


ALL_OUT = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
            "PrefixListIds": [], "UserIdGroupPairs": []}]


def security_group(gid, inbound, description):
    return {"Description": description, "GroupName": SG_NAMES[gid], "IpPermissions": inbound,
            "OwnerId": ACCOUNT, "GroupId": gid, "IpPermissionsEgress": ALL_OUT, "VpcId": VPC}


def group_rule(protocol, from_port, to_port, *sources):
    # One permission per protocol and port range, naming every source group (as EC2 lists it).
    rule = {"IpProtocol": protocol, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": [{"GroupId": g, "UserId": ACCOUNT} for g in sources]}
    if protocol != "-1":
        rule.update(FromPort=from_port, ToPort=to_port)
    return rule


def eni(eni_id, subnet, ip, group, description, requester_managed, instance=None):
    out = {"AvailabilityZone": "ap-northeast-1a", "Description": description,
           "Groups": [{"GroupId": group, "GroupName": SG_NAMES[group]}], "InterfaceType": "interface",
           "Ipv6Addresses": [], "NetworkInterfaceId": eni_id, "OwnerId": ACCOUNT,
           "PrivateIpAddress": ip,
           "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": ip}],
           "RequesterManaged": requester_managed, "SourceDestCheck": True, "Status": "in-use",
           "SubnetId": subnet, "TagSet": [], "VpcId": VPC}
    if instance:
        out["Attachment"] = {"DeviceIndex": 0, "InstanceId": instance, "Status": "attached"}
    else:
        out["RequesterId"] = "amazon-rds"
    return out


def config(here):
    """The experiment's network configuration, as the EC2 describe calls print it."""
    groups = [
        security_group(DEFAULT_SG, [group_rule("-1", None, None, DEFAULT_SG)], "default VPC security group"),
        security_group(DENY_SG, [], "no inbound rule"),
        security_group(ALLOW_SG, [group_rule("tcp", 3306, 3306, CLIENT_SG, BASTION_SG)],
                       "MySQL from the client and bastion groups"),
        security_group(CLIENT_SG, [], "the EC2 client"),
        security_group(BASTION_SG, [], "the bastion"),
    ]
    entries = [{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": action,
                "RuleNumber": number}
               for egress in (True, False) for number, action in ((100, "allow"), (32767, "deny"))]
    acls = [{"Associations": [{"NetworkAclAssociationId": f"aclassoc-0{i}a1b2c3d4e5f6071", "NetworkAclId": NACL,
                               "SubnetId": s} for i, s in enumerate(SUBNETS)],
             "Entries": entries, "IsDefault": True, "NetworkAclId": NACL, "Tags": [], "VpcId": VPC,
             "OwnerId": ACCOUNT}]
    enis = [eni(h["eni"], h["subnet"], h["ip"], h["sg"], "", False, h["instance"]) for h in (CLIENT, BASTION)]
    enis += [eni(d["eni"], d["subnet"], d["ip"], d["sg"], "RDSNetworkInterface", True) for d in DB.values()]
    subnets = [{"AvailabilityZone": "ap-northeast-1a", "CidrBlock": cidr, "DefaultForAz": False,
                "Ipv6CidrBlockAssociationSet": [], "MapPublicIpOnLaunch": False, "State": "available",
                "SubnetId": sid, "VpcId": VPC, "OwnerId": ACCOUNT} for sid, cidr in SUBNETS.items()]
    out = os.path.join(here, "config")
    os.makedirs(out, exist_ok=True)
    for name, key, value in (("security-groups", "SecurityGroups", groups), ("network-acls", "NetworkAcls", acls),
                             ("network-interfaces", "NetworkInterfaces", enis), ("subnets", "Subnets", subnets)):
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            f.write(json.dumps({key: value}, indent=4) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    config(here)
    records.sort(key=lambda r: (r["start"], r["interface-id"]))
    # CloudWatch Logs: one stream per ENI, default format.
    cw = os.path.join(here, "cloudwatch", "soa-05-001-FlowLogGroup")
    os.makedirs(cw, exist_ok=True)
    streams = defaultdict(list)
    for r in records:
        streams[r["interface-id"]].append(line(r, V2))
    for eni, lines in streams.items():
        with open(os.path.join(cw, f"{eni}-all.log"), "w") as f:
            f.write("\n".join(lines) + "\n")
    # S3: one object per 5-minute window (by record end), custom v5 format with a header.
    day = os.path.join(here, "s3", "AWSLogs", ACCOUNT, "vpcflowlogs", REGION, "2026", "11", "20")
    os.makedirs(day, exist_ok=True)
    objects = defaultdict(list)
    for r in records:
        window = r["end"] - r["end"] % 300
        objects[window].append(line(r, V5))
    for window, lines in sorted(objects.items()):
        hhmm = f"{(window % 86400) // 3600:02d}{(window % 3600) // 60:02d}"
        name = f"{ACCOUNT}_vpcflowlogs_{REGION}_{FLOW_LOG_ID}_20261120T{hhmm}Z_{window % 0xffffffff:08x}.log.gz"
        body = (" ".join(V5) + "\n" + "\n".join(lines) + "\n").encode()
        with open(os.path.join(day, name), "wb") as f:
            f.write(gzip.compress(body, mtime=0))


if __name__ == "__main__":
    main()
