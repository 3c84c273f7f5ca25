#!/usr/bin/env bash
# chatapp on a Debian 12 host, in one command, from this checkout:
#
#   sudo CHATAPP_SERVER_NAME=chat.example.com deploy/install.sh     install, or re-run
#   sudo deploy/install.sh upgrade        after `git pull`: new release, rolling restart
#   sudo deploy/install.sh uninstall      stop and remove chatapp (keeps data and database)
#   sudo deploy/install.sh uninstall --purge    also the data, the settings and the database
#   deploy/install.sh render DIR          only check the values and render every file into DIR
#
# Every value is a variable (docs/install.md lists them); a run asks only for
# one that is missing, and without a terminal stops naming it instead. Later
# runs reuse the values of the first (/etc/chatapp/install.conf) and keep its
# secret key, database password and certificate.
#
# Order: check the values and render every file into a temporary folder
# (`chatapp deploy install`, run from the new release's virtualenv) before
# anything else changes; a bad value stops there, and the new release folder
# is removed. Then: Debian's packages, the system user, the files, the
# database, and the workers restarted one at a time behind nginx.
set -euo pipefail

CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ETC_DIR="${CHATAPP_ETC_DIR:-/etc/chatapp}"
HOME_DIR="${CHATAPP_HOME:-/opt/chatapp}"
PACKAGES=(python3 python3-venv openssl curl postgresql redis-server nginx)
KEEP_RELEASES=3
READY_TRIES=120 # half-seconds a restarted worker has to answer /readyz

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

saved() { # NAME: its value in the previous install's install.conf
    [ -r "$ETC_DIR/install.conf" ] || return 0
    sed -n "s/^$1=//p" "$ETC_DIR/install.conf" | tail -n 1 | sed "s/^'\(.*\)'\$/\1/"
}

require() { # NAME QUESTION: from the environment or install.conf, else asked, else an error
    local name="$1" question="$2" value="${!1:-}"
    [ -n "$value" ] || value="$(saved "$name")"
    if [ -z "$value" ] && [ -t 0 ]; then
        read -r -p "$question: " value
    fi
    [ -n "$value" ] || die "$name is not set: $question. Give it as $name=… (no terminal to ask on)."
    export "$name=$value"
}

need_root() {
    [ "$(id -u)" = 0 ] || die "run as root (sudo $0 ${*:-install})"
    grep -qs '^ID=debian' /etc/os-release || say "warning: written for Debian 12, this is not Debian"
}

apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$package")
    done
    [ "${#missing[@]}" = 0 ] && return 0
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null ||
        { apt-get update </dev/null && apt-get install -y --no-install-recommends "${missing[@]}" </dev/null; }
}

render() { # CHATAPP DIR: check every value and render every file into DIR
    env CHATAPP_ETC_DIR="$ETC_DIR" "$1" deploy install --out "$2"
}

build_release() { # a new virtualenv with this checkout installed; prints its path
    local release
    release="$HOME_DIR/releases/$(date -u +%Y%m%d%H%M%S)-$(git -C "$CHECKOUT" rev-parse --short HEAD 2>/dev/null || echo local)"
    say "building $release"
    mkdir -p "$HOME_DIR/releases"
    python3 -m venv "$release" >&2
    if ! { "$release/bin/pip" install --quiet --upgrade pip && "$release/bin/pip" install --quiet "$CHECKOUT"; } >&2; then
        drop_release "$release" "could not install $CHECKOUT into a virtualenv (see pip above)"
    fi
    printf '%s\n' "$release"
}

drop_release() { # RELEASE MESSAGE: remove a release that will not be used, and stop
    rm -rf "$1"
    rmdir --ignore-fail-on-non-empty "$HOME_DIR/releases" "$HOME_DIR" 2>/dev/null || true
    die "$2"
}

apply() { # DIR: every folder and file of the manifest, with its mode and owner
    local kind mode owner group path
    while IFS=$'\t' read -r kind mode owner group path; do
        case "$kind" in
        dir) install -d -m "$mode" -o "$owner" -g "$group" "$path" ;;
        file) install -m "$mode" -o "$owner" -g "$group" "$1/files$path" "$path" ;;
        *) die "unknown manifest line: $kind" ;;
        esac
    done <"$1/manifest"
}

wait_ready() { # PORT: until the worker there takes work (its /readyz answers 200)
    local host
    host="$(saved CHATAPP_SERVER_NAME)"
    for _ in $(seq 1 "$READY_TRIES"); do
        curl -fsS -o /dev/null -H "Host: ${host%%,*}" "http://127.0.0.1:$1/readyz" 2>/dev/null && return 0
        sleep 0.5
    done
    return 1
}

rolling_restart() {
    # Migrations first, with the new code, while the old workers serve; a
    # failure stops here with every worker still up.
    systemctl restart chatapp-release.service ||
        die "chatapp-release failed (journalctl -u chatapp-release): the workers were not restarted"
    local port
    for port in $(saved CHATAPP_PORTS | tr ',' ' '); do
        # SIGTERM drains: /readyz 503, nginx sends new work to the others,
        # sockets close with 1012 and reconnect there.
        systemctl restart "chatapp@$port.service"
        wait_ready "$port" ||
            die "chatapp@$port did not answer /readyz; the workers after it were not restarted (journalctl -u chatapp@$port)"
        say "chatapp@$port ready"
    done
}

cmd_install() {
    need_root install
    [ -x "$CHECKOUT/deploy/install.sh" ] || die "run deploy/install.sh from a chatapp checkout"
    require CHATAPP_SERVER_NAME "the host name clients use, e.g. chat.example.com"
    local old_ports tmp release
    old_ports="$(saved CHATAPP_PORTS | tr ',' ' ')"

    # Only what checking the values needs: the virtualenv and openssl.
    apt_install python3 python3-venv openssl
    TMP_DIR="$(mktemp -d)"
    tmp="$TMP_DIR"
    trap 'rm -rf "$TMP_DIR"' EXIT
    release="$(build_release)"
    render "$release/bin/chatapp" "$tmp/render" || drop_release "$release" "nothing was installed"

    apt_install "${PACKAGES[@]}"
    nginx -t -q -p "$tmp/render/check" -c "$tmp/render/check/nginx.conf" ||
        drop_release "$release" "the rendered nginx site fails nginx -t; nothing was installed"

    local user data
    user="$(sed -n 's/^CHATAPP_USER=//p' "$tmp/render/files$ETC_DIR/install.conf")"
    data="$(sed -n 's/^CHATAPP_DATA_DIR=//p' "$tmp/render/files$ETC_DIR/install.conf")"
    id -u "$user" >/dev/null 2>&1 ||
        useradd --system --user-group --home-dir "$data" --no-create-home --shell /usr/sbin/nologin "$user"
    apply "$tmp/render"
    ln -sfn "$release" "$HOME_DIR/current.new" && mv -T "$HOME_DIR/current.new" "$HOME_DIR/current"

    systemctl enable --now postgresql redis-server nginx
    if [ -s "$tmp/render/postgres.sql" ]; then
        runuser -u postgres -- psql -X -q -d postgres <"$tmp/render/postgres.sql"
    fi

    systemctl daemon-reload
    systemctl enable chatapp.target
    local port
    for port in $old_ports; do # ports no longer in CHATAPP_PORTS
        case ",$(saved CHATAPP_PORTS)," in *",$port,"*) ;; *) systemctl disable --now "chatapp@$port.service" || true ;; esac
    done
    rolling_restart
    ln -sfn /etc/nginx/sites-available/chatapp.conf /etc/nginx/sites-enabled/chatapp.conf
    nginx -t -q || die "nginx -t fails with the new site (/etc/nginx/sites-enabled/chatapp.conf)"
    systemctl reload nginx

    # Older releases beyond the last few; `current` is among the newest.
    find "$HOME_DIR/releases" -mindepth 1 -maxdepth 1 -type d | sort | head -n "-$KEEP_RELEASES" |
        xargs -r rm -rf
    say "chatapp serves https://$(saved CHATAPP_SERVER_NAME | cut -d, -f1)/ (workers on $(saved CHATAPP_PORTS))"
}

cmd_upgrade() {
    [ -r "$ETC_DIR/install.conf" ] || die "no install to upgrade ($ETC_DIR/install.conf is missing); run: $0 install"
    cmd_install
}

cmd_uninstall() {
    need_root uninstall
    local purge="${1:-}" user data port
    [ -z "$purge" ] || [ "$purge" = --purge ] || die "uninstall takes only --purge"
    user="$(saved CHATAPP_USER)"
    data="$(saved CHATAPP_DATA_DIR)"
    for port in $(saved CHATAPP_PORTS | tr ',' ' '); do
        systemctl disable --now "chatapp@$port.service" || true
    done
    systemctl disable --now chatapp.target chatapp-release.service || true
    rm -f /etc/systemd/system/chatapp@.service /etc/systemd/system/chatapp-release.service \
        /etc/systemd/system/chatapp.target
    systemctl daemon-reload
    rm -f /etc/nginx/sites-enabled/chatapp.conf /etc/nginx/sites-available/chatapp.conf
    if systemctl is-active --quiet nginx; then systemctl reload nginx; fi
    rm -rf "$HOME_DIR"
    if [ "$purge" = --purge ]; then
        local database_url
        database_url="$(sed -n 's/^DATABASE_URL=//p' "$ETC_DIR/chatapp.env" 2>/dev/null || true)"
        if [ -n "$user" ] && [[ "$database_url" == "postgres://$user:"*"@127.0.0.1:5432/$user" ]]; then
            runuser -u postgres -- dropdb --if-exists "$user"
            runuser -u postgres -- dropuser --if-exists "$user"
        fi
        [ -z "$data" ] || rm -rf "$data"
        rm -rf "$ETC_DIR"
        [ -z "$user" ] || ! id -u "$user" >/dev/null 2>&1 || userdel "$user"
        say "removed chatapp, its data, settings, database and user (Debian's packages stay)"
    else
        say "removed chatapp; kept $data, $ETC_DIR and the database (uninstall --purge removes them)"
    fi
}

cmd_render() { # DIR: what install would write, without root and without changing anything
    [ -n "${1:-}" ] || die "render needs a folder: $0 render DIR"
    require CHATAPP_SERVER_NAME "the host name clients use, e.g. chat.example.com"
    render "${CHATAPP:-chatapp}" "$1"
}

case "${1:-install}" in
install) cmd_install ;;
upgrade) cmd_upgrade ;;
uninstall) cmd_uninstall "${@:2}" ;;
render) cmd_render "${@:2}" ;;
*) die "usage: $0 [install | upgrade | uninstall [--purge] | render DIR]" ;;
esac
