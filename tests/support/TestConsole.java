import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** A Console for in-process tests: captures what a step says and answers prompts from a string. */
public final class TestConsole {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    public final Console console;

    public TestConsole(String answers) {
        PrintStream p = new PrintStream(out, true, StandardCharsets.UTF_8);
        console = new Console(false, p, p, new ByteArrayInputStream(answers.getBytes(StandardCharsets.UTF_8)));
    }

    public TestConsole() {
        this("");
    }

    /** Everything the step printed so far. */
    public String text() {
        return out.toString(StandardCharsets.UTF_8);
    }
}
