#pragma once
// Evidence for reviews and docs: opens a model (and optionally a sensitivity
// table) in a MainWindow, then saves a PNG of every step's view. Driven by
// `glq-workbench --screenshot DIR`; runs under any QPA platform (xvfb-run or
// offscreen).

#include <QObject>
#include <QString>
#include <functional>

namespace glq::ui {

class MainWindow;

class ScreenshotTour : public QObject {
    Q_OBJECT
public:
    ScreenshotTour(MainWindow* window, QString out_dir, QString model_dir, QString sensitivity, QString bpw_map);
    // Starts; `done(exit_code)` is called when every PNG is written (or on failure).
    void start(std::function<void(int)> done);

private:
    void afterModel();
    void shoot();

    MainWindow* window_;
    QString out_;
    QString model_;
    QString sensitivity_;
    QString bpwMap_;
    std::function<void(int)> done_;
};

} // namespace glq::ui
