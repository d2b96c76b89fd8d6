import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
        // Names like "Béatrice" must print as UTF-8 whatever the locale of the shell.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        System.exit(run(command, argv));
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

    /**
     * Transitional: the entry of a script not yet turned into a picocli command (lib/Args).
     * Goes when the last such script is converted.
     */
    public static void exit(java.util.concurrent.Callable<Integer> body) {
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        int code;
        try {
            code = body.call();
        } catch (HelpRequest h) {
            System.out.print(h.getMessage());
            code = OK;
        } catch (Exception | Error e) {
            code = report(e);
        }
        System.exit(code);
    }

    /** A failure as the user sees it: the message and what to do, never a stack trace. */
    public static int report(Throwable t) {
        if (t instanceof UsageException u) {
            System.err.println("Usage error: " + u.getMessage() + " (see --help)");
            return USAGE;
        }
        if (t instanceof KitException e) {
            for (String line : e.lines()) System.err.println(line == e.lines().get(0) ? "ERROR: " + line : line);
        } else {
            System.err.println("ERROR: unexpected failure: " + t);
            System.err.println("  -> nothing was left half-written; run again with KIT_DEBUG=1 for details and report it");
        }
        if ("1".equals(System.getenv("KIT_DEBUG"))) t.printStackTrace();
        return FAILED;
    }

    /** Transitional (lib/Args): --help was asked for; carries the text. */
    public static class HelpRequest extends RuntimeException {
        public HelpRequest(String text) {
            super(text);
        }
    }

    /** Options that parse but do not go together (exit 2), found after parsing. */
    public static class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }
}
