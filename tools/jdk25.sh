# Sourced by ./optc and ./test: finds a JDK 25 and exports JAVA_HOME and PATH for it.
# Order: $OPTC_JAVA_HOME, $JAVA_HOME, the `java` on PATH, then /usr/lib/jvm/*. The default `java` on
# many machines is older (17 here), so a plain `java -version` is not enough.
optc_is_jdk25() {
  [[ -n $1 && -x $1/bin/java && -x $1/bin/javac ]] || return 1
  # grep the version line itself: "Picked up JDK_JAVA_OPTIONS: ..." may come first.
  "$1/bin/java" -version 2>&1 | grep -m1 -E ' version "' | grep -qE 'version "25([".]|$)'
}
optc_find_jdk25() {
  local c
  for c in "${OPTC_JAVA_HOME:-}" "${JAVA_HOME:-}"; do
    optc_is_jdk25 "$c" && { echo "$c"; return 0; }
  done
  if command -v javac >/dev/null 2>&1; then
    c=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    optc_is_jdk25 "$c" && { echo "$c"; return 0; }
  fi
  for c in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/jdk-25* /usr/lib/jvm/*25*; do
    optc_is_jdk25 "$c" && { echo "$c"; return 0; }
  done
  return 1
}
if ! OPTC_JDK=$(optc_find_jdk25); then
  echo "optc: no JDK 25 found (looked at \$JAVA_HOME, PATH and /usr/lib/jvm): install one, e.g. 'apt-get install temurin-25-jdk' or a JDK 25 from adoptium.net, and set JAVA_HOME to it" >&2
  exit 2
fi
export JAVA_HOME=$OPTC_JDK
export PATH=$JAVA_HOME/bin:$PATH
# Maven's own bundled Guava touches sun.misc.Unsafe; JDK 25 warns about it on every run.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
