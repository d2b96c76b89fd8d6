// Every script compiles StepMain, and JBang applies this line to the whole script. String joins (a + b)
// compiled as StringBuilder calls instead of invokedynamic: each distinct join otherwise makes the JVM
// generate classes at run time, which no class-data archive keeps (over a hundred in a matching run).
//JAVAC_OPTIONS -XDstringConcat=inline
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import picocli.CommandLine;

/**
 * The shell entry of every script: picocli parses the options of the script's
 * {@code @Command} class and calls it; the outcome becomes an exit code and a clear message.
 * 0 = done (or nothing to do), 1 = failure, 2 = usage error. A user never sees a stack trace
 * unless KIT_DEBUG=1 asks for one.
 */
public final class StepMain {
    public static final int OK = 0, FAILED = 1, USAGE = 2;

    private StepMain() {}

    /** Parses {@code argv} into {@code command} (a picocli @Command), runs it and exits the JVM with its code. */
    public static void exit(Object command, String... argv) {
        readAnnotationsInBackground(command.getClass());
        // Names like "Béatrice" must print as UTF-8 whatever the locale of the shell.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        System.exit(run(command, argv));
    }

    /**
     * Reads the annotations of a command class, its fields and its mixins' fields on a thread of its
     * own. picocli reads them first thing; the JDK makes a class of its own for each annotation type
     * on first use (tens of milliseconds of a cold process), which this thread does meanwhile.
     */
    private static void readAnnotationsInBackground(Class<?> command) {
        Thread t = new Thread(() -> {
            try {
                readAnnotations(command, 0);
            } catch (RuntimeException | LinkageError e) {
                // picocli reads them again, and reports what is wrong
            }
        }, "annotations");
        t.setDaemon(true);
        t.start();
    }

    private static void readAnnotations(Class<?> type, int depth) {
        if (type == null || depth > 2 || type.getName().startsWith("java.")) return;
        type.getAnnotations();
        for (java.lang.reflect.Field f : type.getDeclaredFields()) {
            if (f.getAnnotations().length > 0 && !f.getType().isPrimitive()) readAnnotations(f.getType(), depth + 1);
        }
        for (java.lang.reflect.Method m : type.getDeclaredMethods()) m.getAnnotations();
    }

    /** Whether the command line only asks for --help or --version (then no set-up is warmed beforehand). */
    public static boolean onlyHelp(String... argv) {
        for (String a : argv) if (a.equals("--help") || a.equals("-h") || a.equals("--version") || a.equals("-V")) return true;
        return false;
    }

    /** The same without exiting (tests call it). */
    public static int run(Object command, String... argv) {
        CommandLine cl = new CommandLine(command);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> report(e));
        cl.setParameterExceptionHandler((e, args) -> {
            System.err.println("Usage error: " + e.getMessage() + " (see --help)");
            return USAGE;
        });
        return cl.execute(argv);
    }

    /** A failure as the user sees it: the message and what to do, never a stack trace. */
    public static int report(Throwable t) {
        // Exception texts may quote what a library was given (e.g. a header holding the token):
        // every line goes out through masked(), so no configured secret is ever printed.
        if (t instanceof UsageException u) {
            System.err.println(masked("Usage error: " + u.getMessage() + " (see --help)"));
            return USAGE;
        }
        if (t instanceof KitException e) {
            for (String line : e.lines()) System.err.println(masked(line == e.lines().get(0) ? "ERROR: " + line : line));
        } else {
            System.err.println(masked("ERROR: unexpected failure: " + t));
            System.err.println("  -> nothing was left half-written; run again with KIT_DEBUG=1 for details and report it");
        }
        if ("1".equals(System.getenv("KIT_DEBUG"))) {
            java.io.StringWriter trace = new java.io.StringWriter();
            t.printStackTrace(new java.io.PrintWriter(trace));
            System.err.print(masked(trace.toString()));
        }
        return FAILED;
    }

    /** Values never to be printed (tokens, keys); KitConfig hands over every secret it loads. */
    private static final Set<String> SECRETS = ConcurrentHashMap.newKeySet();

    /** Adds values that every failure StepMain prints will show as ****. */
    public static void hideSecrets(Collection<String> values) {
        // Very short values would mask ordinary words; no real token or key is that short.
        for (String v : values) if (v != null && v.strip().length() >= 4) SECRETS.add(v);
    }

    /** {@code text} with every secret handed to {@link #hideSecrets} replaced by ****. */
    public static String masked(String text) {
        if (text == null || SECRETS.isEmpty()) return text;
        List<String> secrets = new ArrayList<>(SECRETS);
        secrets.sort(Comparator.comparingInt(String::length).reversed());
        String out = text;
        for (String s : secrets) out = out.replace(s, "****");
        return out;
    }

    /** Options that parse but do not go together (exit 2), found after parsing. */
    public static class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }
}
