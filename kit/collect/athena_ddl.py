"""`kit athena ddl`: the CREATE EXTERNAL TABLE statement for a CloudTrail table with partition projection.

The columns are AWS's documented CloudTrail table (what kit.collect.cloudtrail_athena selects); the table is
partitioned by account, Region and day (`timestamp`, `yyyy/MM/dd`) and projected, so no partition is ever
loaded by hand, for either layout a trail writes:
- a trail of one account: `s3://BUCKET/[PREFIX/]AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/`
- an organisation trail: `s3://BUCKET/[PREFIX/]AWSLogs/o-xxxx/<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/`
Accounts not given become an `injected` projection (every query then names its accounts, as the kit's do).
Nothing is run: the statement is printed for the user to run in Athena.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import date

from kit.aws_ids import ACCOUNT_ID, REGION
from kit.errors import BadInput

BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PREFIX = re.compile(r"^[A-Za-z0-9!_.*()/-]{0,512}$")
ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
NAME = re.compile(r"^[a-z0-9_]{1,255}$")

COLUMNS = """    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<
            userid: STRING,
            identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<
                mfaauthenticated: STRING,
                creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING,
                principalid: STRING,
                arn: STRING,
                accountid: STRING,
                username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<
                federatedprovider: STRING,
                attributes: MAP<STRING, STRING>>>>,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<
        arn: STRING,
        accountid: STRING,
        type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    eventcategory STRING,
    tlsdetails STRUCT<
        tlsversion: STRING,
        ciphersuite: STRING,
        clienthostheader: STRING>"""


def cloudtrail_ddl(*, bucket: str, prefix: str = "", org_id: str = "", accounts: Sequence[str] = (),
                   regions: Sequence[str] = (), database: str = "default", table: str = "cloudtrail_logs",
                   range_start: date = date(2020, 1, 1)) -> str:
    """The CREATE EXTERNAL TABLE statement (partition projection on account, Region and day)."""
    if not isinstance(bucket, str) or not BUCKET.match(bucket):
        raise BadInput("--bucket", "an S3 bucket name (3-63 lower-case letters, digits, . and -)", bucket)
    prefix = (prefix or "").strip("/")
    if not PREFIX.match(prefix):
        raise BadInput("--prefix", "an S3 key prefix of letters, digits and !_.*()/-", prefix)
    if org_id and not ORG_ID.match(org_id):
        raise BadInput("--org-id", "an organization id like o-a1b2c3d4e5", org_id)
    for account in accounts:
        if not ACCOUNT_ID.match(account):
            raise BadInput("--accounts", "12-digit AWS account ids", account)
    for region in regions:
        if not REGION.match(region):
            raise BadInput("--regions", "Region codes like eu-west-1", region)
    for option, name in (("--database", database), ("--table", table)):
        if not NAME.match(name):
            raise BadInput(option, "a name of lower-case letters, digits and _", name)
    base = f"s3://{bucket}/" + (f"{prefix}/" if prefix else "") + "AWSLogs/" + (f"{org_id}/" if org_id else "")
    regions = list(dict.fromkeys(regions)) or default_regions()
    if accounts:
        account_projection = (f"  'projection.account.type'='enum',\n"
                              f"  'projection.account.values'='{','.join(dict.fromkeys(accounts))}',\n")
    else:
        account_projection = "  'projection.account.type'='injected',\n"
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{table} (\n{COLUMNS}\n)\n"
        "COMMENT 'CloudTrail management events (kit athena ddl)'\n"
        "PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)\n"
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION '{base}'\n"
        "TBLPROPERTIES (\n"
        "  'projection.enabled'='true',\n"
        f"{account_projection}"
        "  'projection.region.type'='enum',\n"
        f"  'projection.region.values'='{','.join(regions)}',\n"
        "  'projection.timestamp.type'='date',\n"
        "  'projection.timestamp.format'='yyyy/MM/dd',\n"
        f"  'projection.timestamp.range'='{range_start:%Y/%m/%d},NOW',\n"
        "  'projection.timestamp.interval'='1',\n"
        "  'projection.timestamp.interval.unit'='DAYS',\n"
        f"  'storage.location.template'='{base}${{account}}/CloudTrail/${{region}}/${{timestamp}}'\n"
        ")"
    )


def default_regions() -> list[str]:
    """The Regions of the standard partition where CloudTrail runs (botocore's endpoint data, offline)."""
    import boto3

    return sorted(boto3.session.Session().get_available_regions("cloudtrail"))


def run(args: argparse.Namespace) -> int:
    """Print the DDL (exit 2 on bad input)."""
    try:
        start = date.fromisoformat(args.range_start)
    except ValueError:
        raise BadInput("--range-start", "a date like 2020-01-01", args.range_start) from None
    print(cloudtrail_ddl(bucket=args.bucket, prefix=args.prefix, org_id=args.org_id, accounts=args.accounts,
                         regions=args.regions, database=args.database, table=args.table, range_start=start))
    return 0
