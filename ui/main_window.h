#pragma once
// The workbench's one main window: a sidebar with a view per step (Model,
// Calibration & sensitivity, bpw map, Quantize, Compare & chat, Export), all
// reachable at any time; menus; a status bar with the device, its memory in
// use and the running job; a log dock. Errors go to the log and a non-modal
// dialog (errorShown() fires for each), never a crash, and the window stays
// usable. Geometry, dock state, the current step, recent files and settings
// persist through QSettings.

#include <QMainWindow>
#include <QStringList>
#include <functional>
#include <memory>

#include "ui/sensitivity_table.h"

class QLabel;
class QListWidget;
class QMenu;
class QProgressBar;
class QStackedWidget;

namespace glq::ui {

class BpwMapModel;
class BpwMapView;
class CalibrationView;
class CompareView;
class DeviceMonitor;
class ExportView;
class LogDock;
class ModelView;
class QuantizeView;
class Worker;
struct ModelSummary;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum Step { ModelStep, CalibrationStep, BpwMapStep, QuantizeStep, CompareStep, ExportStep, StepCount };
    static constexpr int kMaxRecentFiles = 10;

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens an HF model folder on a worker thread (returns at once; the
    // Model view fills in when the worker finishes, or errorShown() fires).
    void openModel(const QString& dir);
    // Imports `gguf` into the HF folder `out_dir` on a worker, then opens it.
    void importGguf(const QString& gguf, const QString& out_dir);
    // Opens whatever `path` is: a model folder or a .gguf (imported next to it).
    void openPath(const QString& path);
    // Synchronous (small files); errors go to showError and return false.
    bool loadSensitivity(const QString& path);
    bool loadBpwMap(const QString& path);
    bool saveBpwMap(const QString& path);

    void setStep(Step step);
    Step step() const;
    QWidget* stepWidget(Step step) const;
    static QString stepTitle(Step step);

    ModelView* modelView() const { return modelView_; }
    CalibrationView* calibrationView() const { return calibrationView_; }
    QuantizeView* quantizeView() const { return quantizeView_; }
    ExportView* exportView() const { return exportView_; }
    CompareView* compareView() const { return compareView_; }
    BpwMapView* bpwMapView() const { return bpwView_; }
    BpwMapModel* bpwModel() const { return bpwModel_; }
    LogDock* log() const { return log_; }
    Worker* worker() const { return worker_; }
    QStringList recentFiles() const { return recent_; }
    QString jobStatus() const;

public slots:
    // Logs the error and shows it in a non-modal dialog.
    void showError(const QString& where, const QString& problem);

signals:
    void errorShown(const QString& message);
    void modelOpened(const QString& dir);
    // The Quantize step's "Compare…" on a finished run (the Compare step listens).
    void compareRequested(const QString& originalDir, const QString& quantizedDir);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void buildMenus();
    void buildStatusBar();
    void connectViews();
    void restoreSettings();
    void saveSettings() const;
    void addRecentFile(const QString& path);
    void rebuildRecentMenu();
    void onModelRead(const ModelSummary& summary);
    void updateDeviceStatus();
    void askOpenFolder();
    void askImportGguf();
    void askLoadSensitivity();
    void askLoadBpwMap();
    void askSaveBpwMap();
    void syncSelection(int bpwRow);

    QListWidget* sidebar_;
    QStackedWidget* stack_;
    ModelView* modelView_;
    CalibrationView* calibrationView_;
    QuantizeView* quantizeView_;
    ExportView* exportView_;
    CompareView* compareView_;
    BpwMapView* bpwView_;
    BpwMapModel* bpwModel_;
    LogDock* log_;
    Worker* worker_;
    DeviceMonitor* devices_;
    QMenu* recentMenu_ = nullptr;
    QLabel* deviceLabel_;
    QLabel* memoryLabel_;
    QLabel* jobLabel_;
    QProgressBar* jobProgress_;
    QStringList recent_;
    std::unique_ptr<SensitivityTable> sensitivity_;
    QString sensitivityPath_;
    std::function<void()> afterJob_;  // what the running job's success leads to
};

} // namespace glq::ui
