"""New process trees: a web or service process, or a document or mail program, that spawns a shell or a
tool; a program run from a folder anyone can write to that no other host runs; a service whose binary
lives there; and the tools such a program starts (Sysmon 1, Security 4688; one alert per process even
when both logged it)."""

from __future__ import annotations

from breachscope.investigate.context import Context, host_key_sql
from breachscope.investigate.detectors.base import Detector, alert, evidence_sql
from breachscope.model.incident import Alert
from breachscope.model.sql import quote_literal

# processes that serve requests: a shell under one of them is how web shells and exploited services look
SERVER_PROCESSES = ("w3wp.exe", "httpd.exe", "nginx.exe", "tomcat.exe", "tomcat9.exe", "tomcat8.exe", "java.exe",
                    "javaw.exe", "php-cgi.exe", "php.exe", "node.exe", "sqlservr.exe", "beasvc.exe", "jboss.exe",
                    "umworkerprocess.exe", "owstimer.exe", "apache.exe", "python.exe", "ruby.exe")
# documents and mail: a shell under one of them is how a phishing attachment or macro looks
DOCUMENT_PROCESSES = ("winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "msaccess.exe", "mspub.exe",
                      "onenote.exe", "acrord32.exe", "acrobat.exe", "hwp.exe")
SHELLS_AND_TOOLS = ("cmd.exe", "powershell.exe", "pwsh.exe", "wscript.exe", "cscript.exe", "mshta.exe",
                    "rundll32.exe", "regsvr32.exe", "whoami.exe", "net.exe", "net1.exe", "nltest.exe", "ipconfig.exe",
                    "systeminfo.exe", "certutil.exe", "bitsadmin.exe", "curl.exe", "wget.exe", "wmic.exe",
                    "psexec.exe", "sc.exe", "reg.exe", "tasklist.exe", "quser.exe", "schtasks.exe", "7z.exe",
                    "7za.exe", "rar.exe", "winrar.exe", "ftp.exe", "tftp.exe", "nslookup.exe", "bash.exe", "sh")
WRITABLE = r"(?i)\\(programdata|users\\public|appdata|temp|tmp|perflogs|\$recycle\.bin)\\"
SYSTEM_DIRS = r"(?i)^[a-z]:\\(windows|program files|program files \(x86\))\\"

STAGE_WORDS = (  # (stage, command-line pattern): what a command was for
    ("exfiltration", r"(?i)(\s-T\s|--upload-file|upload|ftp\s|\bput\b|https?://\S+/(api|upload|sync))"),
    ("staging", r"(?i)(\b7za?\b|\brar\b|compress-archive|\bzip\b|\ba\s+-p|-mx)"),
    ("credential_access", r"(?i)(password|passwd|pwd=|mimikatz|lsass|sekurlsa|procdump|ntds|\.kdbx)"),
    ("discovery", r"(?i)(whoami|ipconfig|systeminfo|net\s+(group|user|view|localgroup)|nltest|quser|tasklist"
                  r"|arp\s+-a|route\s+print|netstat|dsquery|adfind)"),
)


def _list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(quote_literal(v) for v in values) + ")"


def run(ctx: Context) -> list[Alert]:
    cmd = "CommandLine" if ctx.has("windows", "CommandLine") else "NULL"
    user = "coalesce(\"user\", SubjectUserName)" if ctx.has("windows", "SubjectUserName") else '"user"'
    stage = " ".join(f"WHEN regexp_matches(coalesce(cmd, ''), {quote_literal(p)}) THEN '{s}'" for s, p in STAGE_WORDS)
    sql = f"""
    WITH p AS (
      SELECT ts, {host_key_sql('host')} AS hkey, split_part(host, '.', 1) AS host_name, Image AS image_path,
             lower(regexp_extract(Image, '([^\\\\/]+)$', 1)) AS image,
             lower(regexp_extract(coalesce(ParentImage, ''), '([^\\\\/]+)$', 1)) AS parent, ParentImage AS parent_path,
             {cmd} AS cmd, {user} AS usr, src_file, src_record
      FROM windows WHERE EventID IN (1, 4688) AND Image IS NOT NULL AND host IS NOT NULL AND {ctx.window()}
      QUALIFY row_number() OVER (PARTITION BY hkey, lower(Image), coalesce({cmd}, ''), floor(epoch(ts) / 10)
                                 ORDER BY EventID, ts) = 1),
    fleet AS (SELECT image, count(DISTINCT hkey) AS hosts FROM p GROUP BY image),
    flagged AS (
      SELECT p.*, fleet.hosts,
        parent IN {_list(SERVER_PROCESSES)} AS server_parent,
        parent IN {_list(DOCUMENT_PROCESSES)} AS document_parent,
        image IN {_list(SHELLS_AND_TOOLS)} AS tool,
        regexp_matches(image_path, {quote_literal(WRITABLE)}) AS writable,
        regexp_matches(coalesce(parent_path, ''), {quote_literal(WRITABLE)})
          AND NOT regexp_matches(coalesce(parent_path, ''), {quote_literal(SYSTEM_DIRS)}) AS writable_parent,
        parent = 'services.exe' AND NOT regexp_matches(image_path, {quote_literal(SYSTEM_DIRS)}) AS odd_service,
        CASE {stage} ELSE NULL END AS purpose
      FROM p JOIN fleet USING (image))
    SELECT ts, hkey, host_name, image, parent, cmd, usr, hosts, server_parent, document_parent, tool, writable,
           writable_parent,
           odd_service, purpose, {evidence_sql('windows')} AS ev
    FROM flagged
    WHERE ((server_parent OR document_parent) AND (tool OR writable)) OR odd_service OR (writable AND hosts <= 1)
       OR (writable_parent AND tool)
    GROUP BY ALL ORDER BY ts LIMIT 5000"""
    out = []
    for r in ctx.rows(sql):
        score, why = 0.0, []
        if r["server_parent"]:
            score = 70 if r["writable"] else 65
            why.append(f"the server process {r['parent']} started {r['image']}")
        if r["document_parent"]:
            score = 70 if r["writable"] else 65
            why.append(f"the document or mail program {r['parent']} started {r['image']}")
        if r["odd_service"]:
            score = max(score, 60)
            why.append(f"a service started {r['image']} from outside the system folders")
        if r["writable_parent"] and r["tool"]:
            score = max(score, 55)
            why.append(f"{r['parent']}, a program in a writable folder, started {r['image']}")
        if r["writable"] and r["hosts"] <= 1:
            score = max(score, 45) + 5
            why.append(f"{r['image']} runs from a writable folder and on no other host")
        purpose = r["purpose"]
        stage = purpose or ("initial_access" if r["server_parent"] or r["document_parent"] else "execution")
        detail = f": {r['cmd']}" if r["cmd"] else ""
        out.append(alert(r["ts"], "process_tree", stage, score, "; ".join(why) + detail, r["ev"],
                         host=r["hkey"], user=r["usr"]))
    return out


DETECTOR = Detector("process_tree", (("windows", ("EventID", "Image", "ParentImage")),), run,
                    "web or service processes spawning shells; programs from writable folders seen on one host")
