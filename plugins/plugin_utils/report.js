(function(){
"use strict";
/* Pages and sorts the host table. The report's Python writes every host's row and details (_host_row and
   _host_details in _report_html.py): the first page's are in the document, the other hosts' are HTML strings
   in the hosts-data JSON (r and d, each "<" written as an apostrophe: _packed), beside each host's sort keys
   (k, one a column). This script only chooses which hosts to show and in what order, and puts their HTML in
   place as it is. */
var table=document.getElementById("hosts");
var data=document.getElementById("hosts-data");
if(!table||!data){return;}
var hosts=JSON.parse(data.textContent);
var tbody=table.tBodies[0];
var details=document.getElementById("host-details");
var pager=document.getElementById("pager");
var info=document.getElementById("page-info");
var prev=document.getElementById("page-prev");
var next=document.getElementById("page-next");
var all=document.getElementById("page-all");
var headers=Array.prototype.slice.call(table.tHead.rows[0].cells);
var perPage=parseInt(table.getAttribute("data-hosts-per-page"),10)||100;
var order=hosts.map(function(h,i){return i;});
var page=0,showAll=false;
/* the first page's rows and details, as the document has them, for when that page is shown again */
var firstPage=tbody.rows.length;
Array.prototype.forEach.call(tbody.rows,function(tr,i){hosts[i].r=tr.outerHTML;});
Array.prototype.forEach.call(details.children,function(box,i){hosts[i].d=box.outerHTML;});
/* a host's row and details, their "<" put back the first time they are shown */
function host(i){
  var h=hosts[i];
  if(!h.unpacked&&i>=firstPage){h.r=h.r.replace(/'/g,"<");h.d=h.d.replace(/'/g,"<");}
  h.unpacked=true;
  return h;
}
/* shows the page (or every host) in the current order; keep: the document has it already */
function render(keep){
  var pages=Math.max(1,Math.ceil(order.length/perPage));
  page=Math.min(page,pages-1);
  var from=showAll?0:page*perPage,to=showAll?order.length:Math.min(order.length,from+perPage);
  if(!keep){
    var rows=[],boxes=[];
    for(var j=from;j<to;j++){var h=host(order[j]);rows.push(h.r);boxes.push(h.d);}
    tbody.innerHTML=rows.join("");
    details.innerHTML=boxes.join("");
  }
  pager.hidden=pages<2;
  info.textContent=showAll?"All "+order.length+" hosts":
    "Page "+(page+1)+" of "+pages+" \u00b7 hosts "+(from+1)+"\u2013"+to+" of "+order.length;
  prev.disabled=showAll||page===0;
  next.disabled=showAll||page>=pages-1;
  all.setAttribute("aria-pressed",String(showAll));
  all.textContent=showAll?"Show pages":"Show all";
  table.setAttribute("data-page",showAll?"all":String(page+1));
  table.setAttribute("data-pages",String(pages));
}
prev.addEventListener("click",function(){page-=1;render();});
next.addEventListener("click",function(){page+=1;render();});
all.addEventListener("click",function(){showAll=!showAll;render();});
function sortBy(index,direction){
  var th=headers[index];
  var numeric=(th.getAttribute("data-type")||"text")==="num";
  var sign=direction==="descending"?-1:1;
  var keys=hosts.map(function(h){
    var v=h.k[index];
    if(numeric){return typeof v==="number"?v:-Infinity;}
    return String(v===null?"":v).toLowerCase();
  });
  /* the whole fleet, stable: equal keys keep the report's order */
  order.sort(function(a,b){
    if(keys[a]<keys[b]){return -sign;}
    if(keys[a]>keys[b]){return sign;}
    return a-b;
  });
  page=0;
  render();
  headers.forEach(function(h){h.removeAttribute("aria-sort");});
  th.setAttribute("aria-sort",direction);
  var status=document.getElementById("sort-status");
  if(status){status.textContent="Sorted by "+th.textContent.trim()+", "+direction;}
}
headers.forEach(function(th,index){
  var button=th.querySelector("button");
  if(!button){return;}
  button.addEventListener("click",function(){
    var current=th.getAttribute("aria-sort");
    var first=th.getAttribute("data-first")||"ascending";
    var next=current===first?(first==="ascending"?"descending":"ascending"):first;
    sortBy(index,next);
  });
});
/* #host-<n> (the findings' links) shows that host's details even when it is on another page */
function reveal(){
  var match=/^#host-(\d+)$/.exec(window.location.hash);
  if(!match||!hosts[+match[1]]){return;}
  var box=document.getElementById("host-"+match[1]);
  if(!box){details.insertAdjacentHTML("afterbegin",host(+match[1]).d);box=details.firstElementChild;}
  box.open=true;
  box.scrollIntoView();
}
window.addEventListener("hashchange",reveal);
render(true);
/* #sort=<column>:<asc|desc> sorts on load: a link that keeps the order */
var match=/[#&]sort=([\w-]+)(?::(asc|desc))?/.exec(window.location.hash);
if(match){
  headers.forEach(function(th,index){
    if(th.getAttribute("data-key")===match[1]){sortBy(index,match[2]==="desc"?"descending":"ascending");}
  });
}
reveal();
table.setAttribute("data-ready","true");
})();
