import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * What a step says to the person running it. Human text goes to stdout, or to stderr when
 * {@code --json} is given so that stdout holds only the one JSON summary. Prompts read
 * stdin; the end of input counts as "no", so nothing irreversible happens unattended.
 */
public final class Console {
    private final PrintStream human;
    private final PrintStream jsonOut;
    private final boolean json;
    private final BufferedReader in;
    private final boolean interactiveTerminal;

    public Console(boolean json, PrintStream stdout, PrintStream stderr, java.io.InputStream stdin) {
        this.json = json;
        this.human = json ? stderr : stdout;
        this.jsonOut = stdout;
        this.in = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8));
        this.interactiveTerminal = System.console() != null;
    }

    /** The console of a script run from the shell. */
    public static Console standard(boolean json) {
        return new Console(json, System.out, System.err, System.in);
    }

    public boolean jsonMode() {
        return json;
    }

    /** The stream human-readable output goes to (progress bars draw there too). */
    public PrintStream human() {
        return human;
    }

    public boolean isTerminal() {
        return interactiveTerminal;
    }

    /** "=== Step 3/7: Face detection ===" style header, as the earlier pipeline printed. */
    public void header(String title) {
        human.println();
        human.println("=".repeat(Math.max(20, title.length() + 8)));
        human.println("  " + title);
        human.println("=".repeat(Math.max(20, title.length() + 8)));
    }

    /** A one-line title for a part of the work (a step run alone, or one job inside the pipeline's step). */
    public void section(String title) {
        human.println();
        human.println("--- " + title + " ---");
    }

    public void info(String line) {
        human.println(line);
    }

    public void ok(String line) {
        human.println("OK  " + line);
    }

    public void warn(String line) {
        human.println("WARNING: " + line);
    }

    public void error(String line) {
        human.println("ERROR: " + line);
    }

    public void error(KitException e) {
        var lines = e.lines();
        error(lines.get(0));
        for (int i = 1; i < lines.size(); i++) human.println(lines.get(i));
    }

    /**
     * Asks a yes/no question and waits for the answer. Anything but y/yes is "no";
     * the end of input (no terminal, closed pipe) is "no" too.
     */
    public boolean confirm(String question) {
        human.print(question + " [y/N] ");
        human.flush();
        try {
            String line = in.readLine();
            if (line == null) {
                human.println();
                human.println("(no answer: end of input counts as no)");
                return false;
            }
            String a = line.strip().toLowerCase();
            return a.equals("y") || a.equals("yes");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * One line typed by the person (without its line end), after showing {@code prompt};
     * null at the end of input. Shares the reader of {@link #confirm}, so nothing typed ahead is lost.
     */
    public String readLine(String prompt) {
        if (prompt != null) {
            human.print(prompt);
            human.flush();
        }
        try {
            return in.readLine();
        } catch (IOException e) {
            return null;
        }
    }

    /** True when a line can be read without waiting (something was typed); never blocks. */
    public boolean inputWaiting() {
        try {
            return in.ready();
        } catch (IOException e) {
            return false;
        }
    }

    /** Prints the step's one JSON summary on stdout (only in --json mode). */
    public void emitJson(JsonNode summary) {
        if (json) {
            jsonOut.print(JsonFiles.pretty(summary));
            jsonOut.flush();
        }
    }

    public ProgressBar progress(String label, long total, boolean bytes) {
        return new ProgressBar(human, interactiveTerminal, label, total, bytes);
    }
}
