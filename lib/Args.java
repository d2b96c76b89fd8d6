import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command-line options of a script: declared once with their help text, so {@code --help}
 * and the parsing can never disagree. A mistake is a {@link Usage} error (exit code 2).
 */
public final class Args {
    /** A mistake on the command line; the message says which option. */
    public static final class Usage extends StepMain.UsageException {
        public Usage(String message) {
            super(message);
        }
    }

    /** {@code --help} was asked for; carries the text to print. */
    public static final class Help extends StepMain.HelpRequest {
        public Help(String text) {
            super(text);
        }
    }

    private record Option(String name, String valueName, String help) {}

    private final String usageLine;
    private final String description;
    private final List<Option> options = new ArrayList<>();
    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();
    private boolean allowPositional;
    private String positionalHelp;

    /**
     * @param usageLine    e.g. "./jbang steps/backup.java [--data-dir DIR]"
     * @param description  the script's header text: what it does and an example
     */
    public Args(String usageLine, String description) {
        this.usageLine = usageLine;
        this.description = description;
    }

    /** An option that takes a value, e.g. {@code --data-dir DIR}. */
    public Args option(String name, String valueName, String help) {
        options.add(new Option(name, valueName, help));
        return this;
    }

    /** An on/off option, e.g. {@code --dry-run}. */
    public Args flag(String name, String help) {
        options.add(new Option(name, null, help));
        return this;
    }

    public Args positional(String help) {
        allowPositional = true;
        positionalHelp = help;
        return this;
    }

    public String helpText() {
        StringBuilder sb = new StringBuilder();
        sb.append("Usage: ").append(usageLine).append("\n\n").append(description.strip()).append("\n\nOptions:\n");
        List<Option> all = new ArrayList<>(options);
        all.add(new Option("--help", null, "show this help and exit"));
        int width = 0;
        for (Option o : all) width = Math.max(width, label(o).length());
        for (Option o : all) {
            sb.append("  ").append(String.format("%-" + width + "s", label(o))).append("  ").append(o.help).append('\n');
        }
        if (allowPositional) sb.append("\nArguments: ").append(positionalHelp).append('\n');
        return sb.toString();
    }

    private static String label(Option o) {
        return o.valueName == null ? o.name : o.name + " " + o.valueName;
    }

    /** Parses {@code argv}; throws Help or Usage. Accepts "--name value" and "--name=value". */
    public Args parse(String[] argv) {
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--help") || a.equals("-h")) throw new Help(helpText());
            if (!a.startsWith("--")) {
                if (!allowPositional) throw new Usage("unexpected argument '" + a + "'");
                positional.add(a);
                continue;
            }
            String name = a, inline = null;
            int eq = a.indexOf('=');
            if (eq > 0) {
                name = a.substring(0, eq);
                inline = a.substring(eq + 1);
            }
            Option o = find(name);
            if (o == null) throw new Usage("unknown option " + name);
            if (o.valueName == null) {
                if (inline != null) throw new Usage(name + " takes no value");
                values.put(name, "true");
            } else {
                String v = inline;
                if (v == null) {
                    if (i + 1 >= argv.length || argv[i + 1].startsWith("--")) throw new Usage(name + " needs a value (" + o.valueName + ")");
                    v = argv[++i];
                }
                values.put(name, v);
            }
        }
        return this;
    }

    private Option find(String name) {
        for (Option o : options) if (o.name.equals(name)) return o;
        return null;
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    public String get(String name) {
        return values.get(name);
    }

    /** The value of an option the script cannot do without; a Usage error naming it when absent. */
    public String required(String name) {
        String v = values.get(name);
        if (v == null) {
            Option o = find(name);
            throw new Usage((o == null || o.valueName == null ? name : name + " " + o.valueName) + " is required");
        }
        return v;
    }

    public String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    public int getInt(String name, int fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new Usage(name + " needs a whole number, not '" + v + "'");
        }
    }

    public double getDouble(String name, double fallback) {
        String v = values.get(name);
        if (v == null) return fallback;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new Usage(name + " needs a number, not '" + v + "'");
        }
    }

    public List<String> positional() {
        return positional;
    }

    /** Fails unless at most one of {@code names} was given. */
    public void atMostOneOf(String... names) {
        List<String> given = new ArrayList<>();
        for (String n : names) if (has(n)) given.add(n);
        if (given.size() > 1) throw new Usage(String.join(" and ", given) + " cannot be used together");
    }

    /** Fails unless exactly one of {@code names} was given. */
    public void exactlyOneOf(String... names) {
        atMostOneOf(names);
        for (String n : names) if (has(n)) return;
        throw new Usage("give one of " + String.join(", ", names));
    }
}
