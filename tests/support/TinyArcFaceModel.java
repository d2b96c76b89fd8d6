import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a tiny ONNX model with ArcFace w600k_r50's signature: input "input.1" [1,3,112,112],
 * one output "683" [1,512]. The vector is a fixed linear function of the face's mean colour
 * per plane plus a bias (so every face gives a 512-d vector of a sane norm, and different faces
 * different vectors). It stands in for InsightFace's file where the real one is not at hand.
 */
public final class TinyArcFaceModel {
    private TinyArcFaceModel() {}

    public static void write(Path file) throws IOException {
        Files.write(file, build());
    }

    public static byte[] build() {
        int n = 512;
        float[] w = new float[3 * n], bias = new float[n];
        for (int i = 0; i < w.length; i++) w[i] = (float) Math.sin(i * 0.37) * 0.5f;
        for (int i = 0; i < n; i++) bias[i] = (float) Math.cos(i * 0.11) * 0.2f;

        OnnxGraph g = new OnnxGraph("tiny_arcface");
        g.input("input.1", 1, 3, 112, 112);
        g.node("GlobalAveragePool", List.of("input.1"), List.of("pooled"));
        g.node("Flatten", List.of("pooled"), List.of("flat"));
        g.initializer("w", w, 3, n);
        g.node("MatMul", List.of("flat", "w"), List.of("mm"));
        g.initializer("b", bias, n);
        g.node("Add", List.of("mm", "b"), List.of("683"));
        g.output("683", 1, n);
        return g.model("kit tiny arcface", 13);
    }
}
