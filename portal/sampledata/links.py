"""友情链接: government sites an enterprise in the city uses most."""

from __future__ import annotations

LINKS: tuple[tuple[str, str], ...] = (
    ("中国政府网", "https://www.gov.cn/"),
    ("广东省人民政府", "https://www.gd.gov.cn/"),
    ("江门市人民政府", "https://www.jiangmen.gov.cn/"),
    ("广东政务服务网", "https://www.gdzwfw.gov.cn/"),
    ("国家企业信用信息公示系统", "https://www.gsxt.gov.cn/"),
    ("信用中国", "https://www.creditchina.gov.cn/"),
    ("国家税务总局广东省电子税务局", "https://etax.guangdong.chinatax.gov.cn/"),
    ("国家政务服务平台", "https://gjzwfw.www.gov.cn/"),
)
