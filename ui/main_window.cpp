#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTableView>
#include <QTimer>
#include <QUndoStack>
#include <memory>

#include "core/common/error.h"
#include "core/io/gguf_import.h"
#include "ui/bpw_map_model.h"
#include "ui/bpw_map_view.h"
#include "ui/calibration_view.h"
#include "ui/chat_pane.h"
#include "ui/compare_view.h"
#include "ui/device_monitor.h"
#include "ui/export_view.h"
#include "ui/log_dock.h"
#include "ui/model_summary.h"
#include "ui/model_view.h"
#include "ui/plot_panel.h"
#include "ui/quantize_view.h"
#include "ui/sensitivity_plots.h"
#include "ui/worker.h"

// The icons are compiled into the static glq_ui library; a static library's
// resources must be registered by hand (Q_INIT_RESOURCE works outside any
// namespace only).
static void init_glq_resources() { Q_INIT_RESOURCE(glq); }

namespace glq::ui {

QString MainWindow::stepTitle(Step step) {
    switch (step) {
    case ModelStep: return tr("Model");
    case CalibrationStep: return tr("Calibration & sensitivity");
    case BpwMapStep: return tr("bpw map");
    case QuantizeStep: return tr("Quantize");
    case CompareStep: return tr("Compare & chat");
    case ExportStep: return tr("Export");
    case StepCount: break;
    }
    return {};
}

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    init_glq_resources();
    setWindowTitle(tr("GLQ Workbench"));
    setWindowIcon(QIcon(QStringLiteral(":/glq/icons/glq-workbench.svg")));
    setAcceptDrops(true);

    devices_ = new DeviceMonitor(this);
    worker_ = new Worker(this);
    bpwModel_ = new BpwMapModel(this);
    log_ = new LogDock(this);
    addDockWidget(Qt::BottomDockWidgetArea, log_);

    modelView_ = new ModelView(devices_);
    calibrationView_ = new CalibrationView(bpwModel_, worker_);
    bpwView_ = new BpwMapView(bpwModel_);
    quantizeView_ = new QuantizeView(bpwModel_, worker_);
    // Quantize calibrates exactly as the Calibration step is set up, so a
    // quantization after a profile reuses its cached Hessians.
    quantizeView_->setCalibrationProvider([this] { return calibrationView_->jobOptions(); });
    exportView_ = new ExportView(worker_);
    compareView_ = new CompareView(nullptr, devices_);

    stack_ = new QStackedWidget;
    stack_->addWidget(modelView_);
    stack_->addWidget(calibrationView_);
    stack_->addWidget(bpwView_);
    stack_->addWidget(quantizeView_);
    stack_->addWidget(compareView_);
    stack_->addWidget(exportView_);

    sidebar_ = new QListWidget;
    const char* icons[] = {"model", "calibration", "bpw-map", "quantize", "compare", "export"};
    for (int i = 0; i < StepCount; ++i)
        sidebar_->addItem(new QListWidgetItem(QIcon(QStringLiteral(":/glq/icons/%1.svg").arg(QLatin1String(icons[i]))),
                                              stepTitle(static_cast<Step>(i))));
    sidebar_->setIconSize(QSize(24, 24));
    sidebar_->setFixedWidth(sidebar_->sizeHintForColumn(0) + 36);
    sidebar_->setSpacing(2);
    connect(sidebar_, &QListWidget::currentRowChanged, stack_, &QStackedWidget::setCurrentIndex);

    auto* central = new QWidget;
    auto* layout = new QHBoxLayout(central);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(sidebar_);
    layout->addWidget(stack_, 1);
    setCentralWidget(central);

    buildMenus();
    buildStatusBar();
    connectViews();
    restoreSettings();
    devices_->start();
    log_->info(tr("GLQ Workbench %1 ready").arg(QLatin1String(GLQ_WORKBENCH_VERSION)));
}

MainWindow::~MainWindow() {
    if (worker_->isRunning()) {
        worker_->cancel();
        worker_->wait();
    }
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open model folder…"), this, &MainWindow::askOpenFolder);
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("&Import GGUF…"), this, &MainWindow::askImportGguf);
    recentMenu_ = file->addMenu(tr("&Recent"));
    file->addSeparator();
    file->addAction(tr("Load &sensitivity table…"), this, &MainWindow::askLoadSensitivity);
    file->addAction(tr("&Load bpw map…"), this, &MainWindow::askLoadBpwMap);
    file->addAction(tr("Sa&ve bpw map…"), this, &MainWindow::askSaveBpwMap)->setShortcut(QKeySequence::Save);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = bpwModel_->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = bpwModel_->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (int i = 0; i < StepCount; ++i) {
        QAction* a = view->addAction(stepTitle(static_cast<Step>(i)), this, [this, i] { setStep(static_cast<Step>(i)); });
        a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    }
    view->addSeparator();
    view->addAction(log_->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About GLQ Workbench"), this, [this] {
        QMessageBox::about(this, tr("About GLQ Workbench"),
                           tr("<b>GLQ Workbench %1</b><br>Post-training quantization of LLM weights with E8 lattice "
                              "codebooks.").arg(QLatin1String(GLQ_WORKBENCH_VERSION)));
    });
}

void MainWindow::buildStatusBar() {
    deviceLabel_ = new QLabel;
    memoryLabel_ = new QLabel;
    jobLabel_ = new QLabel(tr("idle"));
    jobProgress_ = new QProgressBar;
    jobProgress_->setRange(0, 1000);
    jobProgress_->setMaximumWidth(160);
    jobProgress_->setVisible(false);
    statusBar()->addWidget(jobLabel_, 1);
    statusBar()->addPermanentWidget(jobProgress_);
    statusBar()->addPermanentWidget(deviceLabel_);
    statusBar()->addPermanentWidget(memoryLabel_);
    connect(devices_, &DeviceMonitor::updated, this, &MainWindow::updateDeviceStatus);
    updateDeviceStatus();
}

void MainWindow::updateDeviceStatus() {
    const QString id = modelView_->chosenDevice();
    const DeviceInfo d = devices_->device(id);
    deviceLabel_->setText(tr("Device: %1").arg(d.id == QLatin1String("cpu") ? QStringLiteral("CPU") : d.id + QStringLiteral(" ") + d.name));
    QStringList gpus;
    for (const DeviceInfo& g : devices_->devices())
        if (g.is_gpu()) gpus << QStringLiteral("%1 %2 / %3").arg(g.id, format_bytes(g.used_bytes), format_bytes(g.total_bytes));
    memoryLabel_->setText(gpus.isEmpty() ? tr("GPU: none found") : tr("GPU memory in use: %1").arg(gpus.join(QStringLiteral(", "))));
    calibrationView_->setDevice(d.id);
    quantizeView_->setDevice(d.id);
    exportView_->setDevice(d.id);
}

QString MainWindow::jobStatus() const { return jobLabel_->text(); }

void MainWindow::connectViews() {
    connect(modelView_, &ModelView::openFolderRequested, this, &MainWindow::askOpenFolder);
    connect(modelView_, &ModelView::importGgufRequested, this, &MainWindow::askImportGguf);
    connect(modelView_, &ModelView::cancelRequested, worker_, &Worker::cancel);
    connect(modelView_, &ModelView::chosenDeviceChanged, this, &MainWindow::updateDeviceStatus);
    connect(modelView_, &ModelView::layerSelected, this, [this](const QString& name) {
        const int row = bpwModel_->rowOf(name);
        if (row >= 0) syncSelection(row);
    });
    connect(calibrationView_, &CalibrationView::loadSensitivityRequested, this, &MainWindow::askLoadSensitivity);
    // A finished profile is a table file like any other: loading it fills
    // the plots and the bpw map the same way.
    connect(calibrationView_, &CalibrationView::profileFinished, this, [this](const QString& path) {
        log_->info(tr("Profiled %1: wrote %2").arg(calibrationView_->modelDir(), path));
        loadSensitivity(path);
    });
    connect(calibrationView_, &CalibrationView::errorOccurred, this, &MainWindow::showError);
    connect(quantizeView_, &QuantizeView::errorOccurred, this, &MainWindow::showError);
    connect(quantizeView_, &QuantizeView::runFinished, this,
            [this](const QString& dir) { log_->info(tr("Quantized into %1").arg(dir)); });
    connect(quantizeView_, &QuantizeView::exportRequested, this, [this](const QString& dir) {
        exportView_->setCheckpointDir(dir);
        setStep(ExportStep);
    });
    connect(quantizeView_, &QuantizeView::compareRequested, this, &MainWindow::compareRequested);
    // "Compare" after a run: original left, quantized right, both loaded.
    connect(this, &MainWindow::compareRequested, this, [this](const QString& original, const QString& quantized) {
        compareView_->setModels(original, quantized);
        setStep(CompareStep);
        compareView_->loadModels();
    });
    connect(compareView_, &CompareView::error, this, &MainWindow::showError);
    connect(compareView_, &CompareView::statusMessage, this,
            [this](const QString& message) { statusBar()->showMessage(message, 5000); });
    connect(exportView_, &ExportView::errorOccurred, this, &MainWindow::showError);
    connect(exportView_, &ExportView::exportFinished, this,
            [this](const QString& dir) { log_->info(tr("Exported %1 with its model card").arg(dir)); });
    connect(quantizeView_->lossPlot(), &PlotPanel::saveFailed, this, &MainWindow::showError);
    connect(quantizeView_->lossPlot(), &PlotPanel::saved, this, [this](const QString& path) { log_->info(tr("Saved %1").arg(path)); });
    connect(calibrationView_->plots(), &SensitivityPlots::layerClicked, this, &MainWindow::syncSelection);
    connect(bpwView_->plots(), &SensitivityPlots::layerClicked, this, &MainWindow::syncSelection);
    connect(bpwView_->table()->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this] { calibrationView_->plots()->setSelectedRows(bpwView_->selectedRows()); });
    connect(bpwView_, &BpwMapView::loadRequested, this, &MainWindow::askLoadBpwMap);
    connect(bpwView_, &BpwMapView::saveRequested, this, &MainWindow::askSaveBpwMap);
    connect(bpwView_, &BpwMapView::errorOccurred, this, &MainWindow::showError);
    connect(bpwView_, &BpwMapView::message, log_, &LogDock::info);
    connect(bpwView_, &BpwMapView::message, this, [this](const QString& m) { statusBar()->showMessage(m, 5000); });
    connect(bpwModel_->undoStack(), &QUndoStack::indexChanged, this, [this] {
        const QString t = bpwModel_->undoStack()->undoText();
        if (!t.isEmpty()) statusBar()->showMessage(tr("bpw map: %1").arg(t), 3000);
    });
    for (PlotPanel* p : {calibrationView_->plots()->barsPanel(), calibrationView_->plots()->heatmapPanel(),
                         calibrationView_->plots()->curvesPanel(), bpwView_->plots()->barsPanel(),
                         bpwView_->plots()->heatmapPanel(), bpwView_->plots()->curvesPanel()}) {
        connect(p, &PlotPanel::saveFailed, this, &MainWindow::showError);
        connect(p, &PlotPanel::saved, this, [this](const QString& path) { log_->info(tr("Saved %1").arg(path)); });
    }

    // Every job, whatever it is, shows in the status bar the same way.
    connect(worker_, &Worker::started, this, [this](const QString& title) {
        jobLabel_->setText(title);
        jobProgress_->setRange(0, 0);
        jobProgress_->setVisible(true);
        log_->info(tr("%1…").arg(title));
    });
    connect(worker_, &Worker::progress, this, [this](const JobProgress& p) {
        const int pm = p.permille();
        if (pm >= 0) {
            jobProgress_->setRange(0, 1000);
            jobProgress_->setValue(pm);
        }
        jobLabel_->setText(QStringLiteral("%1 — %2 %3").arg(worker_->title(), p.item, format_eta(p.eta_s)).trimmed());
    });
    auto ended = [this](const QString& how) {
        jobLabel_->setText(tr("idle"));
        jobProgress_->setVisible(false);
        modelView_->showJobEnded();
        if (!how.isEmpty()) log_->info(how);
    };
    connect(worker_, &Worker::cancelled, this, [this, ended] {
        afterJob_ = nullptr;
        ended(tr("%1: cancelled").arg(worker_->title()));
    });
    connect(worker_, &Worker::failed, this, [this, ended](const QString&, const QString&) {
        afterJob_ = nullptr;
        ended(QString());
    });
    connect(worker_, &Worker::finished, this, [this, ended] {
        ended(QString());
        // The job's own follow-up (show the model, open the import...) runs
        // last: it may start the next job.
        if (auto next = std::exchange(afterJob_, nullptr)) next();
    });
    connect(worker_, &Worker::failed, this, &MainWindow::showError);
    connect(worker_, &Worker::started, modelView_, &ModelView::showJobStarted);
    connect(worker_, &Worker::progress, modelView_, &ModelView::showJobProgress);
}

void MainWindow::setStep(Step step) { sidebar_->setCurrentRow(step); }
MainWindow::Step MainWindow::step() const { return static_cast<Step>(stack_->currentIndex()); }
QWidget* MainWindow::stepWidget(Step step) const { return stack_->widget(step); }

void MainWindow::showError(const QString& where, const QString& problem) {
    const QString message = where.isEmpty() ? problem : QStringLiteral("%1: %2").arg(where, problem);
    log_->error(message);
    // Non-modal: the window stays usable and nothing waits on the dialog.
    auto* box = new QMessageBox(QMessageBox::Warning, tr("GLQ Workbench"), problem, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("errorDialog"));
    if (!where.isEmpty()) box->setInformativeText(where);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setModal(false);
    box->show();
    emit errorShown(message);
}

void MainWindow::openModel(const QString& dir) {
    if (worker_->isRunning()) {
        showError(dir, tr("another job is running (%1); wait for it or cancel it first").arg(worker_->title()));
        return;
    }
    auto result = std::make_shared<ModelSummary>();
    afterJob_ = [this, result] { onModelRead(*result); };
    const std::string path = dir.toStdString();
    worker_->start(tr("Opening %1").arg(QFileInfo(dir).fileName()),
                   [result, path](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
                       *result = read_model_summary(path, report, cancel);
                   });
}

void MainWindow::onModelRead(const ModelSummary& s) {
    modelView_->setSummary(s);
    bpwModel_->setLayers(s.linears);
    calibrationView_->setModelDir(s.dir);
    QStringList linears;
    for (const LinearLayer& l : s.linears) linears << l.name;
    quantizeView_->setModel(s.dir, linears);
    // The opened model is the natural "original" of a comparison.
    if (compareView_->pane(CompareView::Left)->modelPath().isEmpty())
        compareView_->pane(CompareView::Left)->setModelPath(s.dir);
    if (sensitivity_) bpwModel_->applySensitivity(*sensitivity_);
    addRecentFile(s.dir);
    log_->info(tr("Opened %1: %2, %3 parameters, %4 linear layers").arg(s.dir, s.architecture, format_count(s.parameters)).arg(s.linears.size()));
    if (!modelView_->fitsOnChosenDevice())
        log_->warning(tr("%1 does not fit in the free memory of %2").arg(QFileInfo(s.dir).fileName(), modelView_->chosenDevice()));
    emit modelOpened(s.dir);
}

void MainWindow::importGguf(const QString& gguf, const QString& out_dir) {
    if (worker_->isRunning()) {
        showError(gguf, tr("another job is running (%1); wait for it or cancel it first").arg(worker_->title()));
        return;
    }
    afterJob_ = [this, out_dir] {
        log_->info(tr("Imported into %1").arg(out_dir));
        openModel(out_dir);
    };
    const std::string in = gguf.toStdString(), out = out_dir.toStdString();
    worker_->start(tr("Importing %1").arg(QFileInfo(gguf).fileName()),
                   [in, out](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
                       glq::io::GgufImportOptions options;
                       options.progress = report;
                       options.cancel = &cancel;
                       glq::io::import_gguf(in, out, options);
                   });
}

void MainWindow::openPath(const QString& path) {
    const QFileInfo info(path);
    if (info.isDir()) {
        openModel(info.absoluteFilePath());
    } else if (info.suffix().compare(QLatin1String("gguf"), Qt::CaseInsensitive) == 0) {
        const QString out = info.absoluteDir().filePath(info.completeBaseName());
        if (QFileInfo::exists(out + QStringLiteral("/config.json"))) {
            log_->info(tr("%1 was imported before: opening %2").arg(info.fileName(), out));
            openModel(out);
        } else {
            importGguf(info.absoluteFilePath(), out);
        }
    } else if (!info.exists()) {
        showError(path, tr("no such file or folder"));
    } else {
        showError(path, tr("not a model folder or a .gguf file"));
    }
}

bool MainWindow::loadSensitivity(const QString& path) {
    try {
        auto table = std::make_unique<SensitivityTable>(SensitivityTable::load(path.toStdString()));
        int matched = 0;
        if (bpwModel_->rowCount() > 0 && modelView_->hasModel()) {
            for (const auto& l : table->layers) matched += bpwModel_->rowOf(QString::fromStdString(l.name)) >= 0;
            if (matched == 0)
                throw glq::Error(path.toStdString(), "none of its layers belongs to the open model (" +
                                                         modelView_->summary().dir.toStdString() + ")");
            bpwModel_->applySensitivity(*table);
        } else {
            bpwModel_->setLayers(table->layers);
            matched = static_cast<int>(table->layers.size());
        }
        sensitivity_ = std::move(table);
        sensitivityPath_ = path;
        calibrationView_->setSensitivitySource(tr("Sensitivity: %1 (%2 layers)").arg(path).arg(matched));
        log_->info(tr("Loaded sensitivity table %1: %2 layers").arg(path).arg(matched));
        return true;
    } catch (const glq::Error& e) {
        showError(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
        return false;
    }
}

bool MainWindow::loadBpwMap(const QString& path) {
    try {
        bpwModel_->loadAllocation(path);
        log_->info(tr("Loaded bpw map %1: average %2 bpw").arg(path).arg(bpwModel_->summary().average_bpw, 0, 'f', 3));
        addRecentFile(path);
        return true;
    } catch (const glq::Error& e) {
        showError(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
        return false;
    }
}

bool MainWindow::saveBpwMap(const QString& path) {
    try {
        bpwModel_->saveAllocation(path);
        log_->info(tr("Saved bpw map %1").arg(path));
        return true;
    } catch (const glq::Error& e) {
        showError(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
        return false;
    }
}

void MainWindow::syncSelection(int bpwRow) {
    if (bpwRow < 0 || bpwRow >= bpwModel_->rowCount()) return;
    bpwView_->selectRows({bpwRow});  // its selection drives both plots
    modelView_->selectLayer(QString::fromStdString(bpwModel_->layers()[static_cast<size_t>(bpwRow)].name));
}

void MainWindow::askOpenFolder() {
    QSettings s;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open model folder"),
                                                          s.value(QStringLiteral("paths/lastModelDir"), QDir::homePath()).toString());
    if (dir.isEmpty()) return;
    s.setValue(QStringLiteral("paths/lastModelDir"), QFileInfo(dir).absolutePath());
    openModel(dir);
}

void MainWindow::askImportGguf() {
    QSettings s;
    const QString gguf = QFileDialog::getOpenFileName(this, tr("Import GGUF"),
                                                      s.value(QStringLiteral("paths/lastGgufDir"), QDir::homePath()).toString(),
                                                      tr("GGUF models (*.gguf)"));
    if (gguf.isEmpty()) return;
    s.setValue(QStringLiteral("paths/lastGgufDir"), QFileInfo(gguf).absolutePath());
    const QFileInfo info(gguf);
    const QString out = QFileDialog::getSaveFileName(this, tr("Import into folder"), info.absoluteDir().filePath(info.completeBaseName()),
                                                     QString(), nullptr, QFileDialog::ShowDirsOnly);
    if (out.isEmpty()) return;
    importGguf(gguf, out);
}

void MainWindow::askLoadSensitivity() {
    const QString f = QFileDialog::getOpenFileName(this, tr("Load sensitivity table"), QString(), tr("Sensitivity table (*.json)"));
    if (!f.isEmpty()) loadSensitivity(f);
}

void MainWindow::askLoadBpwMap() {
    const QString f = QFileDialog::getOpenFileName(this, tr("Load bpw map"), QString(), tr("bpw map (*.json)"));
    if (!f.isEmpty()) loadBpwMap(f);
}

void MainWindow::askSaveBpwMap() {
    QString f = QFileDialog::getSaveFileName(this, tr("Save bpw map"), QStringLiteral("bpw_allocation.json"), tr("bpw map (*.json)"));
    if (f.isEmpty()) return;
    if (QFileInfo(f).suffix().isEmpty()) f += QStringLiteral(".json");
    saveBpwMap(f);
}

void MainWindow::addRecentFile(const QString& path) {
    recent_.removeAll(path);
    recent_.prepend(path);
    while (recent_.size() > kMaxRecentFiles) recent_.removeLast();
    rebuildRecentMenu();
    QSettings().setValue(QStringLiteral("recentFiles"), recent_);
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    for (const QString& path : recent_) {
        QAction* a = recentMenu_->addAction(path);
        connect(a, &QAction::triggered, this, [this, path] {
            if (path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) loadBpwMap(path);
            else openPath(path);
        });
    }
    recentMenu_->setEnabled(!recent_.isEmpty());
}

void MainWindow::restoreSettings() {
    QSettings s;
    if (!restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray())) resize(1400, 900);
    if (!restoreState(s.value(QStringLiteral("window/state")).toByteArray()))
        QTimer::singleShot(0, this, [this] { resizeDocks({log_}, {130}, Qt::Vertical); });  // once laid out
    recent_ = s.value(QStringLiteral("recentFiles")).toStringList();
    rebuildRecentMenu();
    setStep(static_cast<Step>(std::clamp(s.value(QStringLiteral("window/step"), 0).toInt(), 0, StepCount - 1)));
    calibrationView_->loadSettings(s);
    bpwView_->loadSettings(s);
    quantizeView_->loadSettings(s);
    const QString device = s.value(QStringLiteral("device")).toString();
    if (!device.isEmpty()) modelView_->setChosenDevice(device);
}

void MainWindow::saveSettings() const {
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/state"), saveState());
    s.setValue(QStringLiteral("window/step"), static_cast<int>(step()));
    s.setValue(QStringLiteral("recentFiles"), recent_);
    s.setValue(QStringLiteral("device"), modelView_->chosenDevice());
    calibrationView_->saveSettings(s);
    bpwView_->saveSettings(s);
    quantizeView_->saveSettings(s);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (worker_->isRunning()) {
        worker_->cancel();
        worker_->wait();
    }
    saveSettings();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() == 1 && urls[0].isLocalFile()) {
        const QFileInfo info(urls[0].toLocalFile());
        if (info.isDir() || info.suffix().compare(QLatin1String("gguf"), Qt::CaseInsensitive) == 0 ||
            info.suffix().compare(QLatin1String("json"), Qt::CaseInsensitive) == 0)
            event->acceptProposedAction();
    }
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.isEmpty()) return;
    const QString path = urls[0].toLocalFile();
    event->acceptProposedAction();
    // A .json is a sensitivity table or a bpw map: tell them apart by content.
    if (path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive) && !QFileInfo(path).isDir()) {
        QFile f(path);
        const bool isTable = f.open(QIODevice::ReadOnly) && f.read(4096).contains("glq-sensitivity");
        if (isTable) loadSensitivity(path);
        else loadBpwMap(path);
        return;
    }
    openPath(path);
}

} // namespace glq::ui
