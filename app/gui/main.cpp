// glq-workbench: the Qt 6 GUI.
//
//   glq-workbench [MODEL_DIR | FILE.gguf]
//   glq-workbench --screenshot DIR [--sensitivity FILE] [--bpw-map FILE] MODEL_DIR
//       saves a PNG of every view and exits (run it under xvfb-run or with
//       QT_QPA_PLATFORM=offscreen).

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include "core/session/compute_threads.h"
#include "ui/main_window.h"
#include "ui/screenshot_tour.h"

int main(int argc, char** argv) {
    // No more compute threads than cores, before any tensor work.
    glq::session::configure_compute_threads();
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("GLQ"));
    QApplication::setApplicationName(QStringLiteral("GLQ Workbench"));
    // Wayland desktops match windows to their menu entry by this name
    // (resources/glq-workbench.desktop); X11 uses StartupWMClass.
    QGuiApplication::setDesktopFileName(QStringLiteral("glq-workbench"));
    QApplication::setApplicationVersion(QStringLiteral(GLQ_WORKBENCH_VERSION));

    QCommandLineParser args;
    args.setApplicationDescription(QStringLiteral("Post-training quantization of LLMs with E8 lattice codebooks"));
    args.addHelpOption();
    args.addVersionOption();
    args.addPositionalArgument(QStringLiteral("model"), QStringLiteral("An HF model folder or a .gguf file to open"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Save a PNG of every view into DIR and exit"),
                                        QStringLiteral("DIR"));
    const QCommandLineOption sensitivity(QStringLiteral("sensitivity"), QStringLiteral("Load a sensitivity table (JSON)"),
                                         QStringLiteral("FILE"));
    const QCommandLineOption bpwMap(QStringLiteral("bpw-map"), QStringLiteral("Load a bpw_allocation.json"), QStringLiteral("FILE"));
    const QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size for --screenshot, WxH (default 1400x900)"),
                                  QStringLiteral("WxH"), QStringLiteral("1400x900"));
    args.addOptions({screenshot, sensitivity, bpwMap, size});
    args.process(app);
    const QString model = args.positionalArguments().value(0);

    glq::ui::MainWindow window;
    if (args.isSet(screenshot)) {
        const QStringList wh = args.value(size).split(QLatin1Char('x'));
        window.resize(wh.value(0).toInt() > 0 ? wh.value(0).toInt() : 1400, wh.value(1).toInt() > 0 ? wh.value(1).toInt() : 900);
        window.show();
        auto* tour = new glq::ui::ScreenshotTour(&window, args.value(screenshot), model, args.value(sensitivity), args.value(bpwMap));
        int code = 0;
        QTimer::singleShot(0, &window, [&] { tour->start([&](int c) { code = c; app.quit(); }); });
        app.exec();
        return code;
    }
    window.show();
    if (!model.isEmpty()) window.openPath(model);
    if (args.isSet(sensitivity)) window.loadSensitivity(args.value(sensitivity));
    if (args.isSet(bpwMap)) window.loadBpwMap(args.value(bpwMap));
    return app.exec();
}
