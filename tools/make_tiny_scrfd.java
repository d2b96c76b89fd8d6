///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../tests/support/TinyScrfdModel.java ../lib/OnnxGraph.java

/*
 * Writes a tiny synthetic ONNX model with SCRFD's input/output signature (see
 * tests/support/TinyScrfdModel.java): one face at a known place, a weaker duplicate and a
 * below-threshold score, so the SCRFD decoding (anchors, strides, keypoints, letterbox, NMS)
 * can be tested without InsightFace's weights, which cannot be redistributed.
 *
 * Usage:    ./jbang tools/make_tiny_scrfd.java OUT.onnx
 */
import java.nio.file.Path;

public class make_tiny_scrfd {
    public static void main(String[] args) throws Exception {
        if (args.length != 1 || args[0].startsWith("-")) {
            System.out.println("Usage: ./jbang tools/make_tiny_scrfd.java OUT.onnx");
            System.exit(args.length == 1 && (args[0].equals("--help") || args[0].equals("-h")) ? 0 : 2);
        }
        Path out = Path.of(args[0]);
        TinyScrfdModel.write(out);
        System.out.println("wrote " + out + " (" + java.nio.file.Files.size(out) + " bytes; input input.1 [1,3,"
                + TinyScrfdModel.SIZE + "," + TinyScrfdModel.SIZE + "], 9 outputs)");
    }
}
