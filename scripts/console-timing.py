#!/usr/bin/env python3
"""Times console pages in Debian's Chromium (headless), for `slipway-bench console`.

Usage: console-timing.py ENDPOINT ACCESS_KEY_ID SECRET RUNS load PATH...
       console-timing.py ENDPOINT ACCESS_KEY_ID SECRET 1 watch PATH HOSTS

`load`: opens each page RUNS times and prints, per page, the medians (ms from navigation start) of the first byte,
DOMContentLoaded (the page parsed and its script run: usable) and load.
`watch`: opens a live deployment page and waits until all HOSTS rows say Succeeded; prints how many updates the page
applied, the longest task the browser ran (ms, from the Long Tasks API) and how long it took.
Prints one JSON object."""

import json
import statistics
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def sign_in(driver, endpoint, key, secret):
    driver.get(endpoint + "/ui/sign-in")
    driver.find_element(By.ID, "accessKeyId").send_keys(key)
    driver.find_element(By.ID, "secretAccessKey").send_keys(secret)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    deadline = time.time() + 30
    while "/ui/sign-in" in driver.current_url:
        assert time.time() < deadline, "sign-in did not complete"
        time.sleep(0.05)


def load(driver, endpoint, runs, paths):
    results = {}
    for path in paths:
        samples = []
        for _ in range(runs):
            driver.get(endpoint + path)
            samples.append(driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd, n.transferSize,"
                " document.querySelectorAll('tr').length];"))
        results[path] = {
            "firstByteMs": statistics.median(s[0] for s in samples),
            "usableMs": statistics.median(s[1] for s in samples),
            "loadMs": statistics.median(s[2] for s in samples),
            "bytes": samples[-1][3], "tableRows": samples[-1][4]}
    return results


def watch(driver, endpoint, path, hosts):
    started = time.time()
    driver.get(endpoint + path)
    driver.execute_script("""
        window.benchUpdates = 0; window.benchLongest = 0;
        new MutationObserver(() => { window.benchUpdates += 1; })
          .observe(document.getElementById('deployment-head'), {childList: true});
        new PerformanceObserver(list => { for (const entry of list.getEntries()) {
          window.benchLongest = Math.max(window.benchLongest, entry.duration); } })
          .observe({type: 'longtask', buffered: true});""")
    deadline = time.time() + 300
    while True:
        done = driver.execute_script(
            "return document.querySelectorAll('#hosts tr.host-succeeded').length")
        if done >= hosts:
            break
        assert time.time() < deadline, f"only {done} of {hosts} hosts shown succeeded"
        time.sleep(0.05)
    return {"updatesApplied": driver.execute_script("return window.benchUpdates"),
            "longestTaskMs": driver.execute_script("return window.benchLongest"),
            "secondsToAllSucceeded": time.time() - started}


def main():
    endpoint, key, secret, runs, mode = sys.argv[1:6]
    driver = browser()
    try:
        sign_in(driver, endpoint, key, secret)
        if mode == "load":
            print(json.dumps(load(driver, endpoint, int(runs), sys.argv[6:])))
        else:
            print(json.dumps(watch(driver, endpoint, sys.argv[6], int(sys.argv[7]))))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
