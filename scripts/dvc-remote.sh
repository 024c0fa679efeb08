#!/usr/bin/env bash
# Point DVC at the remote named by DVC_REMOTE_URL: any DVC remote type (s3://, gs://, azure://, ssh://, webdav://,
# gdrive://, a path, ...). Options such as credentials come from DVC_REMOTE_CONFIG, one `option=value` per line
# (e.g. access_key_id=... and secret_access_key=... for s3, connection_string=... for azure), and go to
# .dvc/config.local, which git never sees. Installs the DVC plugin the remote's type needs. Prints no option value.
# Does nothing (exit 0) when DVC_REMOTE_URL is unset.
set -euo pipefail
cd "$(dirname "$0")/.."

url=${DVC_REMOTE_URL:-}
if [ -z "$url" ]; then
  echo "dvc remote: DVC_REMOTE_URL is not set, no remote"
  exit 0
fi
scheme=local
case "$url" in *://*) scheme=${url%%://*} ;; esac
case "$scheme" in
  local) plugin="" ;;
  s3 | gs | azure | ssh | gdrive | oss | hdfs | webdav) plugin="dvc-$scheme" ;;
  webdavs) plugin="dvc-webdav" ;;
  http | https) plugin="dvc-http" ;;
  *)
    echo "dvc remote: DVC_REMOTE_URL has an unknown scheme '$scheme' (see https://dvc.org/doc/user-guide/data-management/remote-storage)" >&2
    exit 1
    ;;
esac
if [ -n "$plugin" ]; then
  .venv/bin/pip install -q -c requirements/constraints.txt "$plugin"
fi
.venv/bin/dvc remote add --local --force --default storage "$url" >/dev/null
while IFS='=' read -r key value; do
  key=$(echo "$key" | tr -d '[:space:]')
  value="${value#"${value%%[![:space:]]*}"}" # trim the value's leading and trailing blanks
  value="${value%"${value##*[![:space:]]}"}"
  if [ -n "$key" ]; then
    .venv/bin/dvc remote modify --local storage "$key" "$value" >/dev/null
  fi
done <<<"${DVC_REMOTE_CONFIG:-}"
echo "dvc remote: storage ($scheme)"
