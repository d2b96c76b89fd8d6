import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The kit's configuration, in one place: environment variables, else the project's {@code .env}
 * file (the environment wins), plus the default folders. Secrets are never printed in clear.
 *
 * <p>{@code .env} lines look like {@code NAME=value}, {@code export NAME=value},
 * {@code NAME="value with spaces"} or {@code NAME='literal'}; {@code #} starts a comment
 * (inside quotes it is just a character). Values of the kit's variables lose surrounding
 * whitespace, CR and LF; one that still holds a control character is refused by name.
 */
public final class KitConfig {
    public static final String SYNC_TOKEN = "RHODESLI_SYNC_TOKEN";
    public static final String SITE_URL = "RHODESLI_SITE_URL";
    public static final String R2_ACCOUNT_ID = "R2_ACCOUNT_ID";
    public static final String R2_ACCESS_KEY_ID = "R2_ACCESS_KEY_ID";
    public static final String R2_SECRET_ACCESS_KEY = "R2_SECRET_ACCESS_KEY";
    public static final String R2_BUCKET_NAME = "R2_BUCKET_NAME";
    public static final String R2_ENDPOINT_URL = "R2_ENDPOINT_URL";

    /** What the site needs: the token and where the site is. */
    public static final List<String> SITE_VARIABLES = List.of(SYNC_TOKEN, SITE_URL);
    /** What uploads to R2 need (R2_ACCOUNT_ID may be replaced by R2_ENDPOINT_URL). */
    public static final List<String> R2_VARIABLES = List.of(R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY, R2_BUCKET_NAME);

    /** Why a variable that is set cannot be used; shown instead of its value, which is never shown. */
    static final String UNUSABLE = "holds a control character, e.g. a line break, inside its value";

    private final Path root;
    private final Map<String, String> values;
    private final Set<String> unusable;
    private final List<String> warnings;

    private KitConfig(Path root, Map<String, String> values, Set<String> unusable, List<String> warnings) {
        this.root = root;
        this.values = values;
        this.unusable = unusable;
        this.warnings = warnings;
    }

    /** The configuration of the project this script belongs to, from the real environment. */
    public static KitConfig load() {
        return load(findRoot(), System.getenv());
    }

    /** The configuration of the project at {@code root} with the given environment (tests pass their own). */
    public static KitConfig load(Path root, Map<String, String> environment) {
        Map<String, String> merged = new LinkedHashMap<>();
        Set<String> unusable = new LinkedHashSet<>();
        List<String> warnings = new ArrayList<>();
        Path dotEnv = root.resolve(".env");
        if (Files.isRegularFile(dotEnv)) {
            try {
                parseDotEnv(Files.readString(dotEnv, StandardCharsets.UTF_8), warnings)
                        .forEach((k, v) -> accept(k, v, ".env", merged, unusable, warnings));
            } catch (IOException e) {
                warnings.add(".env could not be read (" + e.getMessage() + "); using the environment only");
            }
        }
        environment.forEach((k, v) -> {
            if (v == null || v.isEmpty()) return;
            // Only the kit's own variables are cleaned: the rest of the environment is none of its business.
            if (isKitVariable(k)) accept(k, v, "the environment", merged, unusable, warnings);
            else merged.put(k, v);
        });
        return new KitConfig(root.toAbsolutePath().normalize(), merged, unusable, warnings);
    }

    /**
     * Takes one value: whitespace, CR and LF around it are dropped (a token pasted with its line
     * end, a .env saved on Windows); a value that still holds a control character is refused,
     * and the warning names the variable, never its value. A later source (the environment)
     * replaces an earlier one (.env), unusable or not.
     */
    private static void accept(String name, String raw, String from, Map<String, String> values, Set<String> unusable, List<String> warnings) {
        String v = raw.strip();
        if (isSecret(name)) remember(raw, v);
        values.remove(name);
        unusable.remove(name);
        if (v.isEmpty()) return;
        if (v.chars().anyMatch(Character::isISOControl)) {
            unusable.add(name);
            warnings.add(name + " (from " + from + ") " + UNUSABLE + "; it is ignored -> set it again in .env or the environment");
            return;
        }
        values.put(name, v);
    }

    /**
     * Hands a secret, as given and as trimmed, to StepMain, which masks it in every failure it
     * prints, including exception texts the kit did not write itself.
     */
    private static void remember(String raw, String trimmed) {
        StepMain.hideSecrets(List.of(raw, trimmed));
    }

    /** The variables the kit reads (and cleans): RHODESLI_*, R2_*, KIT_*. */
    static boolean isKitVariable(String name) {
        return name.startsWith("RHODESLI_") || name.startsWith("R2_") || name.startsWith("KIT_");
    }

    /** The secret values of this configuration (tokens, keys), as given and as trimmed. */
    public Set<String> secretValues() {
        Set<String> out = new LinkedHashSet<>();
        values.forEach((k, v) -> {
            if (isSecret(k) && v.length() >= 4) out.add(v);
        });
        return out;
    }


    /** The project root: $KIT_ROOT (set by ./jbang), else the nearest folder upwards holding jbang-catalog.json. */
    public static Path findRoot() {
        String env = System.getenv("KIT_ROOT");
        if (env != null && !env.isBlank() && Files.isDirectory(Path.of(env))) return Path.of(env);
        Path p = Path.of("").toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isRegularFile(q.resolve("jbang-catalog.json"))) return q;
        }
        return p;
    }

    static Map<String, String> parseDotEnv(String text, List<String> warnings) {
        Map<String, String> out = new LinkedHashMap<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            if (line.startsWith("export ")) line = line.substring(7).strip();
            int eq = line.indexOf('=');
            if (eq <= 0) {
                warnings.add(".env line " + (i + 1) + " is not NAME=value; ignored");
                continue;
            }
            String name = line.substring(0, eq).strip();
            if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                warnings.add(".env line " + (i + 1) + ": '" + name + "' is not a variable name; ignored");
                continue;
            }
            String raw = line.substring(eq + 1).strip();
            String value;
            if (raw.startsWith("\"")) {
                StringBuilder sb = new StringBuilder();
                int j = 1;
                boolean closed = false;
                for (; j < raw.length(); j++) {
                    char c = raw.charAt(j);
                    if (c == '\\' && j + 1 < raw.length()) {
                        char n = raw.charAt(++j);
                        sb.append(n == 'n' ? '\n' : n == 't' ? '\t' : n);
                    } else if (c == '"') {
                        closed = true;
                        break;
                    } else {
                        sb.append(c);
                    }
                }
                if (!closed) warnings.add(".env line " + (i + 1) + ": the value of " + name + " has no closing quote");
                value = sb.toString();
            } else if (raw.startsWith("'")) {
                int end = raw.indexOf('\'', 1);
                if (end < 0) warnings.add(".env line " + (i + 1) + ": the value of " + name + " has no closing quote");
                value = end < 0 ? raw.substring(1) : raw.substring(1, end);
            } else {
                int hash = raw.indexOf(" #");
                if (hash < 0) hash = raw.indexOf("\t#");
                value = (hash >= 0 ? raw.substring(0, hash) : raw).strip();
            }
            out.put(name, value);
        }
        return out;
    }

    public Path root() {
        return root;
    }

    /** Problems found in .env (never holding a value). */
    public List<String> warnings() {
        return warnings;
    }

    /** The value, or null when unset or empty. */
    public String get(String name) {
        String v = values.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    public String get(String name, String fallback) {
        String v = get(name);
        return v == null ? fallback : v;
    }

    public boolean has(String name) {
        return get(name) != null;
    }

    /** Every name of {@code names} that has no usable value (unset, or refused at load), in the order given. */
    public List<String> missing(List<String> names) {
        List<String> out = new ArrayList<>();
        for (String n : names) if (!has(n)) out.add(n);
        return out;
    }

    /** True when the variable is set but its value was refused at load (it holds control characters). */
    public boolean unusable(String name) {
        return unusable.contains(name);
    }

    /** Throws one KitException listing every missing or unusable variable of {@code names}, for {@code purpose}. */
    public void require(List<String> names, String purpose) {
        List<String> missing = missing(names);
        if (missing.isEmpty()) return;
        List<String> unset = new ArrayList<>(), bad = new ArrayList<>();
        for (String n : missing) (unusable(n) ? bad : unset).add(n);
        String what = (unset.isEmpty() ? "" : String.join(", ", unset) + " (not set)")
                + (unset.isEmpty() || bad.isEmpty() ? "" : " and ")
                + (bad.isEmpty() ? "" : String.join(", ", bad) + " (set, but " + (bad.size() == 1 ? "it " : "each ") + UNUSABLE + ")");
        throw new KitException(purpose + " needs " + what,
                "set " + (missing.size() == 1 ? "it" : "them") + " in " + root.resolve(".env")
                        + " or export " + (missing.size() == 1 ? "it" : "them") + "; see README.md, Environment variables");
    }

    public static boolean isSecret(String name) {
        String n = name.toUpperCase();
        return n.contains("TOKEN") || n.contains("SECRET") || n.contains("PASSWORD") || n.contains("ACCESS_KEY");
    }

    /** "NAME=value", "NAME=****" for a secret, "NAME is not set" when absent: safe to print. */
    public String describe(String name) {
        String v = get(name);
        if (unusable(name)) return name + " is unusable (it " + UNUSABLE + ")";
        if (v == null) return name + " is not set";
        return name + "=" + (isSecret(name) ? "****" : v);
    }
}
